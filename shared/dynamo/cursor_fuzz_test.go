package dynamo

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// FuzzListCursor decodes random message-list cursors: a refusal is
// errs.Invalid wrapping messaging.ErrBadCursor; an accepted one starts in
// the request's own partition at an item key of the tenant it asked for,
// and is refused by another tenant and by another list.
func FuzzListCursor(f *testing.F) {
	enc := func(c listCursor) string {
		b, _ := json.Marshal(c)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	pos := "00000001772366400000#conv-1"
	f.Add(enc(listCursor{List: "conversations", Pos: pos, PK: conversationPK("acme", "conv-1")}), "acme", false)
	f.Add(enc(listCursor{List: "messages:conv-1", Pos: "00000001772366400000#wamid.1", PK: messagePK("acme", "wamid.1")}), "acme", true)
	f.Add(enc(listCursor{List: "conversations", Pos: pos, PK: conversationPK("beta", "conv-1")}), "acme", false)
	f.Add(enc(listCursor{List: "conversations", Pos: "0000000177236640000x#conv-1", PK: conversationPK("acme", "conv-1")}), "acme", false)
	f.Add("", "acme", false)
	f.Add("e30", "acme", true)
	f.Add("%%%", "acme", false)
	f.Fuzz(func(t *testing.T, cursor, tenant string, messages bool) {
		if len(cursor) > 1<<20 || tenant == "" {
			t.Skip()
		}
		type listOf struct{ list, partition, prefix, sk string }
		lists := func(tn string) []listOf {
			return []listOf{
				{"conversations", conversationsPartition(tn), conversationPK(tn, ""), conversationSK},
				{"messages:conv-1", conversationMessagesPartition(tn, "conv-1"), messagePK(tn, ""), messageSK},
			}
		}
		mine := lists(tenant)
		l := mine[0]
		if messages {
			l = mine[1]
		}
		k, err := startKey(cursor, l.list, l.partition, l.prefix, l.sk)
		if err != nil {
			if errs.CodeOf(err) != errs.Invalid || !errors.Is(err, messaging.ErrBadCursor) {
				t.Fatalf("startKey(%q): %v", cursor, err)
			}
			return
		}
		if cursor == "" {
			if k != nil {
				t.Fatalf("an empty cursor started at %v", k)
			}
			return
		}
		pk, _ := k[schema.AttrPK].(*types.AttributeValueMemberS)
		gpk, _ := k[schema.AttrGSI1PK].(*types.AttributeValueMemberS)
		if pk == nil || gpk == nil || !strings.HasPrefix(pk.Value, l.prefix) || gpk.Value != l.partition {
			t.Fatalf("cursor %q of tenant %q starts at %v", cursor, tenant, k)
		}
		for _, other := range append(lists(tenant+"x"), mine...) {
			if other == l || strings.HasPrefix(other.prefix, l.prefix) && other.list == l.list {
				continue
			}
			if _, err := startKey(cursor, other.list, other.partition, other.prefix, other.sk); err == nil {
				t.Fatalf("the cursor of %s was taken by %s", l.partition, other.partition)
			}
		}
	})
}
