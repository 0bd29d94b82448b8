package dynamo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// Payloads keeps event bodies too large for one queue message in the
// idempotency table, in chunks under DynamoDB's 400 KB item limit; the queue
// then carries only a reference. They expire with the DLQ's retention, so a
// body outlives every message that can point at it.
type Payloads struct {
	DB    *dynamodb.Client
	Table string
	Now   func() time.Time
	// Retention, when shorter than that, is how long a body is kept: the
	// bodies of number webhooks are a tenant's messages
	// (MESSAGE_RETENTION_DAYS).
	Retention messaging.Retention
}

// chunkBytes stays well under the 400 KB item limit, attribute names included.
const chunkBytes = 300 * 1024

func payloadKey(ref string, chunk int) string {
	return "payload#" + ref + "#" + strconv.Itoa(chunk)
}

// Put stores body under ref in one BatchWriteItem (a 4 MiB body is 14
// chunks; a batch takes 25). Writing the same ref twice is harmless.
func (p *Payloads) Put(ctx context.Context, ref string, body []byte) error {
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	expires := numberAttr(now.Add(messaging.Shorter(schema.DLQRetention+24*time.Hour, p.Retention.Duration())).Unix())
	sum := sha256.Sum256(body)
	chunks := max((len(body)+chunkBytes-1)/chunkBytes, 1)
	if chunks > maxChunks {
		return fmt.Errorf("store payload %s: %d bytes is more than %d chunks", ref, len(body), maxChunks)
	}
	writes := make([]types.WriteRequest, 0, chunks)
	for i := range chunks {
		end := min((i+1)*chunkBytes, len(body))
		item := map[string]types.AttributeValue{
			schema.AttrPK:  &types.AttributeValueMemberS{Value: payloadKey(ref, i)},
			"data":         &types.AttributeValueMemberB{Value: body[i*chunkBytes : end]},
			schema.AttrTTL: expires,
		}
		if i == 0 {
			item["chunks"] = numberAttr(int64(chunks))
			item["sha256"] = &types.AttributeValueMemberS{Value: hex.EncodeToString(sum[:])}
		}
		writes = append(writes, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	for attempt := 0; ; attempt++ {
		out, err := p.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{p.Table: writes},
		})
		if err != nil {
			return fmt.Errorf("store payload %s: %w", ref, err)
		}
		writes = out.UnprocessedItems[p.Table]
		if len(writes) == 0 {
			return nil
		}
		// DynamoDB throttled part of the batch: back off briefly, within the
		// caller's deadline.
		if attempt == unprocessedRetries {
			return fmt.Errorf("store payload %s: %d chunks still unprocessed", ref, len(writes))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("store payload %s: %w", ref, ctx.Err())
		case <-time.After(time.Duration(25<<attempt) * time.Millisecond):
		}
	}
}

const (
	// maxChunks is BatchWriteItem's limit of 25 items.
	maxChunks          = 25
	unprocessedRetries = 4
)

// Get loads the body stored under ref and checks it is whole.
func (p *Payloads) Get(ctx context.Context, ref string) ([]byte, error) {
	first, err := p.chunk(ctx, ref, 0)
	if err != nil {
		return nil, err
	}
	chunks, err := intAttr(first["chunks"])
	if err != nil || chunks < 1 || chunks > maxChunks {
		return nil, fmt.Errorf("load payload %s: bad chunk count", ref)
	}
	body := bytesAttr(first["data"])
	for i := 1; i < int(chunks); i++ {
		item, err := p.chunk(ctx, ref, i)
		if err != nil {
			return nil, err
		}
		body = append(body, bytesAttr(item["data"])...)
	}
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != stringAttr(first["sha256"]) {
		return nil, fmt.Errorf("load payload %s: checksum mismatch", ref)
	}
	return body, nil
}

func (p *Payloads) chunk(ctx context.Context, ref string, i int) (map[string]types.AttributeValue, error) {
	out, err := p.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(p.Table),
		Key:            map[string]types.AttributeValue{schema.AttrPK: &types.AttributeValueMemberS{Value: payloadKey(ref, i)}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("load payload %s chunk %d: %w", ref, i, err)
	}
	if len(out.Item) == 0 {
		return nil, fmt.Errorf("load payload %s chunk %d: %w", ref, i, envelope.ErrBodyNotFound)
	}
	return out.Item, nil
}

func bytesAttr(v types.AttributeValue) []byte {
	if b, ok := v.(*types.AttributeValueMemberB); ok {
		return b.Value
	}
	return nil
}
