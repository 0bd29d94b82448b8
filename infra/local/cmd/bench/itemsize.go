package main

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// itemSize is the size of a kind of item as DynamoDB bills a write of it:
// one write request unit per KB or part of one.
type itemSize struct {
	Count      int `json:"count"`
	Max        int `json:"max_bytes"`
	Mean       int `json:"mean_bytes"`
	WriteUnits int `json:"write_units_to_write_each_once"`
}

// itemSizes scans table and sizes every item, by kind: the sort key's
// prefix (MSG, CONV, CONTACT…), or the partition key's where there is no
// sort key.
func itemSizes(ctx context.Context, db *dynamodb.Client, table string) (map[string]itemSize, error) {
	return itemSizesBy(ctx, db, table, kindOf)
}

// itemSizesBy is itemSizes with the kinds kind tells.
func itemSizesBy(ctx context.Context, db *dynamodb.Client, table string, kind func(map[string]types.AttributeValue) string) (map[string]itemSize, error) {
	out := map[string]itemSize{}
	sums := map[string]int{}
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			k := kind(it)
			n := sizeOfItem(it)
			s := out[k]
			s.Count++
			s.Max = max(s.Max, n)
			s.WriteUnits += (n + 1023) / 1024
			sums[k] += n
			out[k] = s
		}
	}
	for k, s := range out {
		s.Mean = sums[k] / s.Count
		out[k] = s
	}
	return out, nil
}

func kindOf(it map[string]types.AttributeValue) string {
	key, ok := it[schema.AttrSK].(*types.AttributeValueMemberS)
	if !ok {
		key, _ = it[schema.AttrPK].(*types.AttributeValueMemberS)
	}
	if key == nil {
		return "?"
	}
	k, _, _ := strings.Cut(key.Value, "#")
	return k
}

// sizeOfItem follows DynamoDB's item size rules: attribute names plus
// values; a number takes about one byte per two significant digits plus
// one; a map or list 3 bytes plus one per element.
func sizeOfItem(it map[string]types.AttributeValue) int {
	n := 0
	for name, v := range it {
		n += len(name) + sizeOfValue(v)
	}
	return n
}

func sizeOfValue(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return sizeOfNumber(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, s := range v.Value {
			n += sizeOfNumber(s)
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + sizeOfValue(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range v.Value {
			n += 1 + len(k) + sizeOfValue(e)
		}
		return n
	}
	return 0
}

func sizeOfNumber(s string) int {
	digits := strings.Trim(strings.NewReplacer("-", "", ".", "").Replace(s), "0")
	return (len(digits)+1)/2 + 1
}
