package streams_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/kapso-bridge/kapso-bridge/shared/dynamo/streams"
)

// fakeStream is a table's stream in memory, with the faults DynamoDB
// Streams answers: an expired iterator, records trimmed, a replaced
// stream.
type fakeStream struct {
	mu     sync.Mutex
	arn    string
	shards []*fakeShard
	seq    int
	// expire answers the next GetRecords with an expired iterator.
	expire bool
	// trimmedBelow is the first index of each shard still kept.
	trimmedBelow map[string]int
	iterators    []string // the iterator types asked for, with their sequence number
}

type fakeShard struct {
	id, parent string
	records    []streamtypes.Record
	closed     bool
}

func newFakeStream() *fakeStream {
	return &fakeStream{arn: "arn:stream/1", trimmedBelow: map[string]int{}}
}

// add appends n records to the shard, creating it (child of parent).
func (f *fakeStream) add(shard, parent string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.shards, func(s *fakeShard) bool { return s.id == shard })
	if i < 0 {
		f.shards = append(f.shards, &fakeShard{id: shard, parent: parent})
		i = len(f.shards) - 1
	}
	for range n {
		f.seq++
		seq := fmt.Sprintf("%021d", f.seq)
		f.shards[i].records = append(f.shards[i].records, streamtypes.Record{EventID: aws.String("e" + seq),
			EventName: streamtypes.OperationTypeInsert, Dynamodb: &streamtypes.StreamRecord{SequenceNumber: aws.String(seq),
				Keys:     map[string]streamtypes.AttributeValue{"pk": &streamtypes.AttributeValueMemberS{Value: shard}},
				NewImage: map[string]streamtypes.AttributeValue{"pk": &streamtypes.AttributeValueMemberS{Value: shard}},
				OldImage: map[string]streamtypes.AttributeValue{}}})
	}
}

func (f *fakeStream) close(shard string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.shards {
		if s.id == shard {
			s.closed = true
		}
	}
}

func (f *fakeStream) DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &dynamodb.DescribeTableOutput{Table: &dbtypes.TableDescription{LatestStreamArn: aws.String(f.arn)}}, nil
}

func (f *fakeStream) DescribeStream(_ context.Context, in *dynamodbstreams.DescribeStreamInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &streamtypes.StreamDescription{}
	// One shard per page, as a long stream is paged.
	start := 0
	if in.ExclusiveStartShardId != nil {
		start = slices.IndexFunc(f.shards, func(s *fakeShard) bool { return s.id == *in.ExclusiveStartShardId }) + 1
	}
	if start < len(f.shards) {
		s := f.shards[start]
		out.Shards = []streamtypes.Shard{{ShardId: aws.String(s.id), ParentShardId: nilIfEmpty(s.parent)}}
		if start+1 < len(f.shards) {
			out.LastEvaluatedShardId = aws.String(s.id)
		}
	}
	return &dynamodbstreams.DescribeStreamOutput{StreamDescription: out}, nil
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func (f *fakeStream) GetShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.iterators = append(f.iterators, string(in.ShardIteratorType)+" "+aws.ToString(in.SequenceNumber))
	i := slices.IndexFunc(f.shards, func(s *fakeShard) bool { return s.id == *in.ShardId })
	if i < 0 || aws.ToString(in.StreamArn) != f.arn {
		return nil, &streamtypes.ResourceNotFoundException{Message: aws.String("Shard does not exist")}
	}
	s, at := f.shards[i], f.trimmedBelow[*in.ShardId]
	if in.ShardIteratorType == streamtypes.ShardIteratorTypeAfterSequenceNumber {
		j := slices.IndexFunc(s.records, func(r streamtypes.Record) bool { return *r.Dynamodb.SequenceNumber == *in.SequenceNumber })
		if j < at {
			return nil, &streamtypes.TrimmedDataAccessException{Message: aws.String("trimmed")}
		}
		at = j + 1
	}
	return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String(f.arn + "|" + s.id + "|" + strconv.Itoa(at))}, nil
}

func (f *fakeStream) GetRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.expire {
		f.expire = false
		return nil, &streamtypes.ExpiredIteratorException{Message: aws.String("expired")}
	}
	parts := strings.Split(*in.ShardIterator, "|")
	at, _ := strconv.Atoi(parts[2])
	i := slices.IndexFunc(f.shards, func(s *fakeShard) bool { return s.id == parts[1] })
	if parts[0] != f.arn || i < 0 {
		return nil, &streamtypes.ResourceNotFoundException{Message: aws.String("gone")}
	}
	s := f.shards[i]
	if at < f.trimmedBelow[s.id] {
		return nil, &streamtypes.TrimmedDataAccessException{Message: aws.String("trimmed")}
	}
	end := min(len(s.records), at+int(aws.ToInt32(in.Limit)))
	out := &dynamodbstreams.GetRecordsOutput{Records: slices.Clone(s.records[at:end])}
	if !s.closed || end < len(s.records) {
		out.NextShardIterator = aws.String(f.arn + "|" + s.id + "|" + strconv.Itoa(end))
	}
	return out, nil
}

// handled is what a handler was handed, batch by batch.
type handled struct {
	mu      sync.Mutex
	batches [][]string
	// fail answers each batch, in turn, until it runs out.
	fail []func(events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
}

func (h *handled) handle(_ context.Context, b events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var seqs []string
	for _, r := range b.Records {
		seqs = append(seqs, strings.TrimLeft(r.Change.SequenceNumber, "0"))
	}
	h.batches = append(h.batches, seqs)
	if len(h.fail) > 0 {
		f := h.fail[0]
		h.fail = h.fail[1:]
		return f(b)
	}
	return events.DynamoDBEventResponse{}, nil
}

// seen lists the records of every batch handed, in order.
func (h *handled) seen() [][]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.batches)
}

// polling is a poller running on a fake stream.
type polling struct {
	t      *testing.T
	h      *handled
	p      *streams.Poller
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

func startPoller(t *testing.T, f *fakeStream, h *handled, batchSize int) *polling {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	p := &streams.Poller{DB: f, Streams: f, Table: "bridge", Handler: h.handle, BatchSize: batchSize,
		Interval: time.Millisecond, RetryDelay: time.Millisecond}
	pl := &polling{t: t, h: h, p: p, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(pl.done); p.Run(ctx) }()
	t.Cleanup(pl.stop)
	return pl
}

// wait waits until the batches handed so far satisfy until.
func (pl *polling) wait(until func([][]string) bool) {
	pl.t.Helper()
	for !until(pl.h.seen()) {
		if pl.ctx.Err() != nil {
			pl.t.Fatalf("batches handed: %v", pl.h.seen())
		}
		time.Sleep(time.Millisecond)
	}
}

func (pl *polling) stop() {
	pl.cancel()
	<-pl.done
}

// handedLast is whether seq is the last record of the last batch.
func handedLast(seq string) func([][]string) bool {
	return func(b [][]string) bool {
		return len(b) > 0 && len(b[len(b)-1]) > 0 && b[len(b)-1][len(b[len(b)-1])-1] == seq
	}
}

// handedCount is whether n records were handed, retries counted.
func handedCount(n int) func([][]string) bool {
	return func(b [][]string) bool {
		total := 0
		for _, batch := range b {
			total += len(batch)
		}
		return total >= n
	}
}

func failAt(seq string) func(events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	return func(events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: fmt.Sprintf("%021s", seq)}}}, nil
	}
}

// Records come in order, in batches of the batch size; a batch that
// reports its first failed record is handed again from that record, one
// that fails whole, or reports a record it was not handed, whole.
func TestStreamPollerHandsBatchesWithLambdasPartialFailure(t *testing.T) {
	f := newFakeStream()
	f.add("shard-1", "", 7)
	h := &handled{fail: []func(events.DynamoDBEvent) (events.DynamoDBEventResponse, error){
		failAt("3"),
		func(events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			return events.DynamoDBEventResponse{}, errors.New("down")
		},
		failAt("99"),
	}}
	pl := startPoller(t, f, h, 4)
	pl.wait(handedLast("7"))
	pl.stop()
	want := [][]string{{"1", "2", "3", "4"}, {"3", "4", "5", "6"}, {"3", "4", "5", "6"}, {"3", "4", "5", "6"}, {"7"}}
	if got := h.seen(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("batches %v, want %v", got, want)
	}
}

// A closed shard is read to its end before its children; new records are
// read as they come; an expired iterator is asked for again after the
// last record handled.
func TestStreamPollerFollowsShardsThroughTheirFaults(t *testing.T) {
	f := newFakeStream()
	f.add("shard-2", "shard-1", 2) // listed first, but the child
	f.add("shard-1", "", 3)
	f.close("shard-1")
	h := &handled{}
	pl := startPoller(t, f, h, 10)
	pl.wait(handedCount(5))
	pl.stop()
	if got, want := h.seen(), [][]string{{"3", "4", "5"}, {"1", "2"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("batches %v, want %v", got, want)
	}

	f = newFakeStream()
	f.add("shard-1", "", 2)
	h = &handled{}
	pl = startPoller(t, f, h, 10)
	pl.wait(handedLast("2"))
	f.mu.Lock()
	f.expire = true
	f.mu.Unlock()
	f.add("shard-1", "", 1)
	pl.wait(handedLast("3"))
	pl.stop()
	if got, want := h.seen(), [][]string{{"1", "2"}, {"3"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("after an expired iterator: batches %v, want %v", got, want)
	}
	if !slices.Contains(f.iterators, "AFTER_SEQUENCE_NUMBER "+fmt.Sprintf("%021d", 2)) {
		t.Errorf("iterators asked for: %v", f.iterators)
	}
}

// Records trimmed before they were read are passed, from the oldest kept
// on (DynamoDB Streams keeps them 24 hours); a replaced stream (the table
// deleted and created again) is read anew.
func TestStreamPollerPassesTrimmedRecordsAndReplacedStreams(t *testing.T) {
	f := newFakeStream()
	f.add("shard-1", "", 4)
	f.trimmedBelow["shard-1"] = 2
	h := &handled{}
	pl := startPoller(t, f, h, 10)
	pl.wait(handedLast("4"))
	// Records 5 and 6 are trimmed as soon as they come.
	f.mu.Lock()
	f.trimmedBelow["shard-1"], f.expire = 6, true
	f.mu.Unlock()
	f.add("shard-1", "", 3)
	pl.wait(handedLast("7"))
	f.mu.Lock()
	f.arn, f.shards = "arn:stream/2", nil
	f.mu.Unlock()
	f.add("shard-9", "", 2)
	pl.wait(handedLast("9"))
	pl.stop()
	if got, want := h.seen(), [][]string{{"3", "4"}, {"7"}, {"8", "9"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("batches %v, want %v", got, want)
	}
}

// What the poller hands on is a record as Lambda hands it: an image the
// record does not have is absent, not empty, and the source is the
// stream.
func TestLambdaRecord(t *testing.T) {
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	r := streamtypes.Record{AwsRegion: aws.String("ddblocal"), EventID: aws.String("e1"), EventName: streamtypes.OperationTypeModify,
		EventSource: aws.String("aws:dynamodb"), EventVersion: aws.String("1.1"),
		UserIdentity: &streamtypes.Identity{Type: aws.String("Service"), PrincipalId: aws.String("dynamodb.amazonaws.com")},
		Dynamodb: &streamtypes.StreamRecord{ApproximateCreationDateTime: &at, SequenceNumber: aws.String("0001"), SizeBytes: aws.Int64(42),
			StreamViewType: streamtypes.StreamViewTypeNewAndOldImages,
			Keys:           map[string]streamtypes.AttributeValue{"pk": &streamtypes.AttributeValueMemberS{Value: "k"}},
			OldImage:       map[string]streamtypes.AttributeValue{},
			NewImage: map[string]streamtypes.AttributeValue{
				"s": &streamtypes.AttributeValueMemberS{Value: "v"}, "n": &streamtypes.AttributeValueMemberN{Value: "12"},
				"b": &streamtypes.AttributeValueMemberB{Value: []byte{1}}, "t": &streamtypes.AttributeValueMemberBOOL{Value: true},
				"z": &streamtypes.AttributeValueMemberNULL{Value: true}, "ss": &streamtypes.AttributeValueMemberSS{Value: []string{"a"}},
				"ns": &streamtypes.AttributeValueMemberNS{Value: []string{"1"}}, "bs": &streamtypes.AttributeValueMemberBS{Value: [][]byte{{2}}},
				"l": &streamtypes.AttributeValueMemberL{Value: []streamtypes.AttributeValue{&streamtypes.AttributeValueMemberS{Value: "x"}}},
				"m": &streamtypes.AttributeValueMemberM{Value: map[string]streamtypes.AttributeValue{"k": &streamtypes.AttributeValueMemberN{Value: "1"}}},
			}}}
	got := streams.LambdaRecord(r, "arn:stream/1")
	if got.EventName != "MODIFY" || got.EventSourceArn != "arn:stream/1" || got.AWSRegion != "ddblocal" || got.EventID != "e1" ||
		got.EventSource != "aws:dynamodb" || got.EventVersion != "1.1" || got.UserIdentity == nil || got.UserIdentity.Type != "Service" ||
		got.Change.OldImage != nil || got.Change.SequenceNumber != "0001" || got.Change.SizeBytes != 42 ||
		got.Change.StreamViewType != "NEW_AND_OLD_IMAGES" || !got.Change.ApproximateCreationDateTime.Equal(at) {
		t.Errorf("record %+v", got)
	}
	img := got.Change.NewImage
	if img["s"].String() != "v" || img["n"].Number() != "12" || img["b"].Binary()[0] != 1 || !img["t"].Boolean() ||
		!img["z"].IsNull() || img["ss"].StringSet()[0] != "a" || img["ns"].NumberSet()[0] != "1" || img["bs"].BinarySet()[0][0] != 2 ||
		img["l"].List()[0].String() != "x" || img["m"].Map()["k"].Number() != "1" {
		t.Errorf("image %+v", img)
	}
}

// The poller says when every record written before a time was handed on:
// once each open shard was read to its end since.
func TestStreamPollerSaysWhenItCaughtUp(t *testing.T) {
	f := newFakeStream()
	f.add("shard-1", "", 2)
	h := &handled{fail: []func(events.DynamoDBEvent) (events.DynamoDBEventResponse, error){
		func(events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			return events.DynamoDBEventResponse{}, errors.New("down")
		},
	}}
	written := time.Now()
	pl := startPoller(t, f, h, 10)
	pl.wait(handedCount(4)) // handed twice: the first failed
	deadline := time.Now().Add(5 * time.Second)
	for !pl.p.CaughtUp(written) {
		if time.Now().After(deadline) {
			t.Fatal("never caught up")
		}
		time.Sleep(time.Millisecond)
	}
	later := time.Now()
	var whileHanded bool
	h.mu.Lock()
	h.fail = []func(events.DynamoDBEvent) (events.DynamoDBEventResponse, error){
		func(events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			whileHanded = pl.p.CaughtUp(later)
			return events.DynamoDBEventResponse{}, nil
		},
	}
	h.mu.Unlock()
	f.add("shard-1", "", 1)
	pl.wait(handedLast("3"))
	for !pl.p.CaughtUp(later) {
		if time.Now().After(deadline) {
			t.Fatal("never caught up with the new record")
		}
		time.Sleep(time.Millisecond)
	}
	if whileHanded {
		t.Error("caught up with a record while it was being handed")
	}
	if pl.p.CaughtUp(time.Now().Add(time.Hour)) {
		t.Error("caught up with the future")
	}
	pl.stop()
}
