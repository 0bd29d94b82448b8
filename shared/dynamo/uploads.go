package dynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// Uploads is the media.Uploads on the bridge table: two items an upload,
// in its tenant's partition, which hold the same attributes:
//
//	TENANT#<tenant> / UPLOAD#<number>#<sha256>     the upload of the bytes (conditional put)
//	TENANT#<tenant> / UPLOADID#<number>#<media id>  the same, found by the media id a send names
//
// Both sort after the tenant's own item (TENANT) and its facts (FACT#…),
// so the tenant's load, which reads up to TENANT, never reads them. Neither
// makes an event (EventSortKeys). Reads are strongly consistent.
type Uploads struct {
	DB    *dynamodb.Client
	Table string
}

var _ media.Uploads = (*Uploads)(nil)

// Sort-key prefixes of the upload items; both sort after tenantSK.
const (
	uploadPrefix   = "UPLOAD#"
	uploadIDPrefix = "UPLOADID#"
)

func uploadKey(tenantID, phoneNumberID, sha256 string) map[string]types.AttributeValue {
	return key(tenantPrefix+tenantID, uploadPrefix+phoneNumberID+"#"+sha256)
}

func uploadIDKey(tenantID, phoneNumberID, mediaID string) map[string]types.AttributeValue {
	return key(tenantPrefix+tenantID, uploadIDPrefix+phoneNumberID+"#"+mediaID)
}

// Attributes of an upload item. created_at is fixed width, so that the
// put's condition compares it as a string.
const attrUploadCreated = "created_at"

func uploadItem(k map[string]types.AttributeValue, u media.Upload) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		"tenant_id": str(u.TenantID), "phone_number_id": str(u.PhoneNumberID), "sha256": str(u.SHA256),
		"media_id": str(u.MediaID), "object_key": str(u.Key), attrUploadCreated: str(sortKeyTime(u.CreatedAt)),
		"size": numberAttr(u.Size),
	}
	for name, v := range map[string]string{"type": u.Type, "mime_type": u.MIMEType, "filename": u.Filename} {
		if v != "" {
			it[name] = str(v)
		}
	}
	for a, v := range k {
		it[a] = v
	}
	return it
}

func uploadFrom(it map[string]types.AttributeValue) media.Upload {
	size, _ := intAttr(it["size"])
	return media.Upload{TenantID: stringAttr(it["tenant_id"]), PhoneNumberID: stringAttr(it["phone_number_id"]),
		SHA256: stringAttr(it["sha256"]), MediaID: stringAttr(it["media_id"]), Type: stringAttr(it["type"]),
		MIMEType: stringAttr(it["mime_type"]), Size: size, Filename: stringAttr(it["filename"]),
		Key: stringAttr(it["object_key"]), CreatedAt: parseStamp(stringAttr(it[attrUploadCreated]))}
}

func (s *Uploads) get(ctx context.Context, what string, k map[string]types.AttributeValue) (media.Upload, bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: k, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return media.Upload{}, false, fmt.Errorf("read upload %s: %w", what, err)
	}
	if out.Item == nil {
		return media.Upload{}, false, nil
	}
	return uploadFrom(out.Item), true, nil
}

// Upload implements media.Uploads: one GetItem.
func (s *Uploads) Upload(ctx context.Context, tenantID, phoneNumberID, sha256 string) (media.Upload, bool, error) {
	if tenantID == "" || phoneNumberID == "" || sha256 == "" {
		return media.Upload{}, false, nil
	}
	return s.get(ctx, sha256, uploadKey(tenantID, phoneNumberID, sha256))
}

// UploadByMediaID implements media.Uploads: one GetItem.
func (s *Uploads) UploadByMediaID(ctx context.Context, tenantID, phoneNumberID, mediaID string) (media.Upload, bool, error) {
	if tenantID == "" || phoneNumberID == "" || mediaID == "" {
		return media.Upload{}, false, nil
	}
	return s.get(ctx, "of media "+mediaID, uploadIDKey(tenantID, phoneNumberID, mediaID))
}

// PutUpload implements media.Uploads: one TransactWriteItems puts both
// items, the upload's on the condition that no fresh upload of the bytes
// is there; when one is, the cancellation returns it.
func (s *Uploads) PutUpload(ctx context.Context, u media.Upload, staleBefore time.Time) (media.Upload, bool, error) {
	wrap := func(err error) error { return fmt.Errorf("put upload %s: %w", u.SHA256, err) }
	if err := media.CheckUpload(u); err != nil {
		return media.Upload{}, false, wrap(err)
	}
	u.CreatedAt = u.CreatedAt.UTC()
	byBytes := uploadItem(uploadKey(u.TenantID, u.PhoneNumberID, u.SHA256), u)
	byID := uploadItem(uploadIDKey(u.TenantID, u.PhoneNumberID, u.MediaID), u)
	cond := "attribute_not_exists(#pk) OR #c < :stale"
	for try := 0; try < 8; try++ {
		_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String(s.Table), Item: byBytes, ConditionExpression: aws.String(cond),
				ExpressionAttributeNames:            map[string]string{"#pk": schema.AttrPK, "#c": attrUploadCreated},
				ExpressionAttributeValues:           map[string]types.AttributeValue{":stale": str(sortKeyTime(staleBefore))},
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
			{Put: &types.Put{TableName: aws.String(s.Table), Item: byID}},
		}})
		if err == nil {
			return u, true, nil
		}
		var tc *types.TransactionCanceledException
		if !errors.As(err, &tc) || len(tc.CancellationReasons) == 0 {
			return media.Upload{}, false, wrap(refused(err))
		}
		codes := make([]string, len(tc.CancellationReasons))
		for i, r := range tc.CancellationReasons {
			codes[i] = aws.ToString(r.Code)
		}
		switch {
		case codes[0] == "ConditionalCheckFailed":
			if it := tc.CancellationReasons[0].Item; it != nil {
				return uploadFrom(it), false, nil
			}
			cur, ok, err := s.Upload(ctx, u.TenantID, u.PhoneNumberID, u.SHA256)
			if err != nil || ok {
				return cur, false, err
			}
			continue // gone meanwhile: put again
		case !slices.Contains(codes, "TransactionConflict"):
			return media.Upload{}, false, wrap(refused(err))
		}
		// Another put of the same bytes was under way: try again, after it.
		select {
		case <-ctx.Done():
			return media.Upload{}, false, wrap(ctx.Err())
		case <-time.After(time.Duration(try+1) * 20 * time.Millisecond):
		}
	}
	return media.Upload{}, false, wrap(errs.E(errs.Unavailable, "upload kept changing", nil))
}
