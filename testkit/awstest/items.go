package awstest

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Strings is every string an item holds, at any depth (strings, string
// sets, lists and maps), joined by newlines: what a test searches for a
// value an item must not name.
func Strings(it map[string]types.AttributeValue) string {
	var b strings.Builder
	var walk func(v types.AttributeValue)
	walk = func(v types.AttributeValue) {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			b.WriteString(v.Value + "\n")
		case *types.AttributeValueMemberSS:
			b.WriteString(strings.Join(v.Value, "\n") + "\n")
		case *types.AttributeValueMemberL:
			for _, x := range v.Value {
				walk(x)
			}
		case *types.AttributeValueMemberM:
			for _, x := range v.Value {
				walk(x)
			}
		}
	}
	walk(&types.AttributeValueMemberM{Value: it})
	return b.String()
}
