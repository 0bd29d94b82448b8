package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// OrphansForTest lists the events KeepOrphan kept for a Kapso customer,
// oldest first. Only the contract suite reads them back; the bridge never
// does.
func (s *Onboarding) OrphansForTest(ctx context.Context, customerID string) ([][]byte, error) {
	out, err := s.DB.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.Table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(orphanPrefix + customerID)},
	})
	if err != nil {
		return nil, fmt.Errorf("list orphans of customer %s: %w", customerID, err)
	}
	var bodies [][]byte
	for _, it := range out.Items {
		bodies = append(bodies, []byte(stringAttr(it["envelope"])))
	}
	return bodies, nil
}

// WithScanBudget is f reading at most n items per List.
func (f *Feed) WithScanBudget(n int) *Feed {
	g := *f
	g.scanBudget = n
	return &g
}
