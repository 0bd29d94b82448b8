package dynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// Tokens is the access.Store on the bridge table: two items a token, with
// the same attributes, written and revoked together in a transaction:
//
//	TOKEN#<hash> / TOKEN                       found by the secret's hash: one GetItem
//	TOKENS / NAME#<name>#<created>#<hash>      listed by name, oldest first
//
// Neither makes an event (EventSortKeys). Reads are strongly consistent,
// so a token works as soon as it is made.
type Tokens struct {
	DB    *dynamodb.Client
	Table string
}

var _ access.Store = (*Tokens)(nil)

// Attributes of a token's items.
const (
	attrTokenName    = "name"
	attrTokenScopes  = "scopes"
	attrTokenCreated = "created_at"
	attrTokenRevoked = "revoked_at"
	attrTokenHash    = "token_hash"
)

func tokenItem(k map[string]types.AttributeValue, h access.Hash, t access.Token) map[string]types.AttributeValue {
	scopes := make([]string, len(t.Scopes))
	for i, s := range t.Scopes {
		scopes[i] = string(s)
	}
	it := map[string]types.AttributeValue{attrTokenName: str(t.Name), attrTokenScopes: str(strings.Join(scopes, ",")),
		attrTokenCreated: str(sortKeyTime(t.CreatedAt)), attrTokenHash: str(h.String())}
	for a, v := range k {
		it[a] = v
	}
	return it
}

func tokenFrom(it map[string]types.AttributeValue) access.Token {
	t := access.Token{Name: stringAttr(it[attrTokenName]), CreatedAt: parseStamp(stringAttr(it[attrTokenCreated]))}
	for s := range strings.SplitSeq(stringAttr(it[attrTokenScopes]), ",") {
		t.Scopes = append(t.Scopes, access.Scope(s))
	}
	if r := stringAttr(it[attrTokenRevoked]); r != "" {
		t.RevokedAt = parseStamp(r)
	}
	return t
}

// CreateToken implements access.Store: one TransactWriteItems puts both
// items, on the condition that the hash is new.
func (s *Tokens) CreateToken(ctx context.Context, h access.Hash, t access.Token) error {
	wrap := func(err error) error { return fmt.Errorf("create token %q: %w", t.Name, err) }
	if err := access.CheckToken(t); err != nil {
		return wrap(err)
	}
	t.CreatedAt, t.RevokedAt = t.CreatedAt.UTC(), time.Time{}
	_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.Table), Item: tokenItem(tokenKey(h.String()), h, t),
			ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames: map[string]string{"#pk": schema.AttrPK}}},
		{Put: &types.Put{TableName: aws.String(s.Table), Item: tokenItem(key(tokensPK, tokenNameSK(t.Name, t.CreatedAt, h.String())), h, t)}},
	}})
	if cancelledBy(err, "ConditionalCheckFailed") {
		return wrap(errs.E(errs.Conflict, "a token of this secret exists", err))
	}
	if err != nil {
		return wrap(refused(err))
	}
	return nil
}

// cancelledBy reports whether err is a cancelled transaction one of whose
// reasons is code.
func cancelledBy(err error, code string) bool {
	var tc *types.TransactionCanceledException
	return errors.As(err, &tc) && slices.ContainsFunc(tc.CancellationReasons, func(r types.CancellationReason) bool {
		return aws.ToString(r.Code) == code
	})
}

// TokenByHash implements access.Store: one GetItem.
func (s *Tokens) TokenByHash(ctx context.Context, h access.Hash) (access.Token, bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: tokenKey(h.String()),
		ConsistentRead: aws.Bool(true)})
	if err != nil {
		return access.Token{}, false, fmt.Errorf("look up a token: %w", err)
	}
	if out.Item == nil {
		return access.Token{}, false, nil
	}
	return tokenFrom(out.Item), true, nil
}

// TokensByName implements access.Store: Query calls of the name's keys.
func (s *Tokens) TokensByName(ctx context.Context, name string) ([]access.Token, error) {
	if !access.ValidName(name) {
		return []access.Token{}, nil
	}
	items, err := s.listed(ctx, tokenNamePrefix+name+"#")
	if err != nil {
		return nil, fmt.Errorf("list tokens %q: %w", name, err)
	}
	return tokensFrom(items), nil
}

// ListTokens implements access.Store: Query calls of the whole list.
func (s *Tokens) ListTokens(ctx context.Context) ([]access.Token, error) {
	items, err := s.listed(ctx, tokenNamePrefix)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return tokensFrom(items), nil
}

func tokensFrom(items []map[string]types.AttributeValue) []access.Token {
	out := make([]access.Token, len(items))
	for i, it := range items {
		out[i] = tokenFrom(it)
	}
	return out
}

// listed reads the list items whose sort keys begin with prefix.
func (s *Tokens) listed(ctx context.Context, prefix string) ([]map[string]types.AttributeValue, error) {
	in := &dynamodb.QueryInput{TableName: aws.String(s.Table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(tokensPK), ":p": str(prefix)}}
	var items []map[string]types.AttributeValue
	for {
		out, err := s.DB.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		items = append(items, out.Items...)
		if out.LastEvaluatedKey == nil {
			return items, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// RevokeTokens implements access.Store: the name's list, then one
// TransactWriteItems a token not revoked yet, which marks both of its
// items on the condition that no one revoked it meanwhile.
func (s *Tokens) RevokeTokens(ctx context.Context, name string, at time.Time) (int, error) {
	wrap := func(err error) error { return fmt.Errorf("revoke tokens %q: %w", name, err) }
	if !access.ValidName(name) {
		return 0, nil
	}
	items, err := s.listed(ctx, tokenNamePrefix+name+"#")
	if err != nil {
		return 0, wrap(err)
	}
	n := 0
	for _, it := range items {
		if stringAttr(it[attrTokenRevoked]) != "" {
			continue
		}
		update := func(k map[string]types.AttributeValue) *types.Update {
			return &types.Update{TableName: aws.String(s.Table), Key: k,
				UpdateExpression:          aws.String("SET #r = :at"),
				ConditionExpression:       aws.String("attribute_exists(#pk) AND attribute_not_exists(#r)"),
				ExpressionAttributeNames:  map[string]string{"#r": attrTokenRevoked, "#pk": schema.AttrPK},
				ExpressionAttributeValues: map[string]types.AttributeValue{":at": str(sortKeyTime(at))}}
		}
		_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: update(tokenKey(stringAttr(it[attrTokenHash])))},
			{Update: update(key(tokensPK, stringAttr(it[schema.AttrSK])))},
		}})
		switch {
		case cancelledBy(err, "ConditionalCheckFailed"):
			continue // revoked meanwhile
		case err != nil:
			return n, wrap(err)
		}
		n++
	}
	return n, nil
}
