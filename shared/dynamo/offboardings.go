package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/offboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// Offboardings is the offboarding.Store on the bridge table: one item a
// tenant, OFFBOARD#<tenant> / OFFBOARD, holding the job as JSON and its
// version. While the job is unfinished the item is in the gsi1 partition
// OFFBOARD_OPEN, by the time it was last saved, which is how the
// reconciler finds the jobs to resume; the tombstone leaves it. The item
// never expires: it is what says the tenant was deleted.
type Offboardings struct {
	DB    *dynamodb.Client
	Table string
}

var _ offboarding.Store = (*Offboardings)(nil)

const (
	offboardingPrefix    = "OFFBOARD#"
	offboardingSK        = "OFFBOARD"
	offboardingOpenIndex = "OFFBOARD_OPEN"
	attrOffboardJob      = "job"
	attrOffboardVersion  = "version"
)

func offboardingKey(tenantID string) map[string]types.AttributeValue {
	return key(offboardingPrefix+tenantID, offboardingSK)
}

func (s *Offboardings) item(j offboarding.Job) (map[string]types.AttributeValue, error) {
	raw, err := json.Marshal(j)
	if err != nil {
		return nil, err
	}
	it := offboardingKey(j.TenantID)
	it[attrOffboardJob] = str(string(raw))
	it[attrOffboardVersion] = &types.AttributeValueMemberN{Value: strconv.Itoa(j.Version)}
	if !j.Done() {
		it[schema.AttrGSI1PK] = str(offboardingOpenIndex)
		it[schema.AttrGSI1SK] = str(sortKeyTime(j.UpdatedAt) + "#" + j.TenantID)
	}
	return it, nil
}

func readJob(it map[string]types.AttributeValue) (offboarding.Job, error) {
	var j offboarding.Job
	if err := json.Unmarshal([]byte(stringAttr(it[attrOffboardJob])), &j); err != nil {
		return j, fmt.Errorf("read offboarding %s: %w", stringAttr(it[schema.AttrPK]), err)
	}
	return j, nil
}

// Start implements offboarding.Store: a put on condition that no job is
// stored or the stored one is a tombstone (outside the open index).
func (s *Offboardings) Start(ctx context.Context, j offboarding.Job) (offboarding.Job, bool, error) {
	j.Version = 1
	it, err := s.item(j)
	if err != nil {
		return j, false, fmt.Errorf("start offboarding of %s: %w", j.TenantID, err)
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table), Item: it,
		ConditionExpression:                 aws.String("attribute_not_exists(#pk) OR attribute_not_exists(#g)"),
		ExpressionAttributeNames:            map[string]string{"#pk": schema.AttrPK, "#g": schema.AttrGSI1PK},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return j, true, nil
	}
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) || ccf.Item == nil {
		return j, false, fmt.Errorf("start offboarding of %s: %w", j.TenantID, err)
	}
	running, err := readJob(ccf.Item)
	return running, false, err
}

// Job implements offboarding.Store.
func (s *Offboardings) Job(ctx context.Context, tenantID string) (offboarding.Job, bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: offboardingKey(tenantID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return offboarding.Job{}, false, fmt.Errorf("read offboarding of %s: %w", tenantID, err)
	}
	if out.Item == nil {
		return offboarding.Job{}, false, nil
	}
	j, err := readJob(out.Item)
	return j, err == nil, err
}

// Save implements offboarding.Store: a put on condition that the stored
// version is the one before j's.
func (s *Offboardings) Save(ctx context.Context, j offboarding.Job) error {
	it, err := s.item(j)
	if err != nil {
		return fmt.Errorf("save offboarding of %s: %w", j.TenantID, err)
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table), Item: it,
		ConditionExpression:       aws.String("#v = :v"),
		ExpressionAttributeNames:  map[string]string{"#v": attrOffboardVersion},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: strconv.Itoa(j.Version - 1)}},
	})
	if isConditionFailed(err) {
		return fmt.Errorf("save offboarding of %s: %w", j.TenantID, offboarding.ErrJobMoved)
	}
	if err != nil {
		return fmt.Errorf("save offboarding of %s: %w", j.TenantID, err)
	}
	return nil
}

// Unfinished implements offboarding.Store: one query of the open index.
func (s *Offboardings) Unfinished(ctx context.Context, limit int) ([]offboarding.Job, error) {
	out, err := s.DB.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(s.Table), IndexName: aws.String(schema.GSI1),
		KeyConditionExpression:    aws.String("#g = :p"),
		ExpressionAttributeNames:  map[string]string{"#g": schema.AttrGSI1PK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(offboardingOpenIndex)},
		Limit:                     aws.Int32(int32(min(max(limit, 1), 1000))),
	})
	if err != nil {
		return nil, fmt.Errorf("list unfinished offboardings: %w", err)
	}
	jobs := make([]offboarding.Job, 0, len(out.Items))
	for _, it := range out.Items {
		j, err := readJob(it)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}
