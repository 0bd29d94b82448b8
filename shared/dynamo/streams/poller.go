// Package streams reads a DynamoDB table's stream the way Lambda's event
// source mapping does, for the local stack, where no Lambda reads it: the
// deployed functions never link it (nor the DynamoDB Streams client).
package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// Handler handles a batch of stream records as a Lambda function
// behind a DynamoDB event source mapping does, reporting the first record
// that failed.
type Handler func(ctx context.Context, batch events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// TableDescriber finds a table's stream (the DynamoDB client).
type TableDescriber interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// Reader reads a stream's shards (the DynamoDB Streams client).
type Reader interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// Poller reads a table's stream and hands its records to a handler
// the way Lambda's event source mapping does, for the local stack: every
// shard from its oldest record (TRIM_HORIZON), a shard's children only
// once it is closed and read to its end, each shard's records in order in
// batches of up to BatchSize; a batch that fails is handed again from its
// first failed record (BatchItemFailures) or whole (an error), until it
// succeeds. An iterator that expired or whose records were trimmed (a
// stream keeps them 24 hours) is asked for again; a table whose stream
// changed (deleted and created again) is read anew.
type Poller struct {
	DB      TableDescriber
	Streams Reader
	Table   string
	Handler Handler
	// BatchSize is the most records handed at once (Lambda's default, 100,
	// when 0).
	BatchSize int
	// Interval is the wait before reading a shard that had nothing new
	// (250 ms when 0, Lambda's four reads a second).
	Interval time.Duration
	// RetryDelay is the wait before handing a failed batch again, doubled
	// at each failure up to 30 times it (1 s when 0).
	RetryDelay time.Duration
	Log        *slog.Logger

	// shards of the stream being read, by id; done once read to the end.
	arn    string
	shards map[string]*shardState
	// listed is when the shards were last asked for.
	listed time.Time

	mu sync.Mutex
	// caughtUp is when the latest read of every open shard that found
	// nothing new began.
	caughtUp time.Time
}

// relist is how often the poller asks for the stream's shards while
// reading them: a shard's children are asked for as soon as it closes, so
// this only finds a stream that was replaced.
const relist = 10 * time.Second

// shardState is where the poller is in one shard.
type shardState struct {
	id, parent string
	iterator   *string
	// last is the sequence number of the last record handled.
	last     string
	done     bool
	failures int
	// wait is when the shard is read next.
	wait time.Time
	// emptyAt is when the latest read began that found nothing new.
	emptyAt time.Time
}

// CaughtUp reports whether every record written before t was handed on:
// each open shard was read to its end, finding nothing new, since t.
func (p *Poller) CaughtUp(t time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.caughtUp.After(t)
}

// Run polls until ctx ends.
func (p *Poller) Run(ctx context.Context) {
	for ctx.Err() == nil {
		if time.Since(p.listed) >= relist {
			if err := p.discover(ctx); err != nil {
				if ctx.Err() == nil {
					p.logger().Warn("read the stream's shards", "table", p.Table, "err", err.Error())
				}
				sleep(ctx, p.retryDelay())
				continue
			}
			p.listed = time.Now()
		}
		next := p.poll(ctx)
		p.noteCaughtUp()
		sleep(ctx, time.Until(next))
	}
}

// discover finds the table's stream and its shards: new ones are added,
// and a stream other than the one read so far starts anew.
func (p *Poller) discover(ctx context.Context) error {
	t, err := p.DB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(p.Table)})
	if err != nil {
		return fmt.Errorf("describe table %s: %w", p.Table, err)
	}
	arn := aws.ToString(t.Table.LatestStreamArn)
	if arn == "" {
		return fmt.Errorf("table %s has no stream", p.Table)
	}
	if arn != p.arn {
		p.arn, p.shards = arn, map[string]*shardState{}
	}
	// Shards no longer listed were trimmed: their children go on.
	shards := map[string]*shardState{}
	in := &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)}
	for {
		out, err := p.Streams.DescribeStream(ctx, in)
		if err != nil {
			return fmt.Errorf("describe stream %s: %w", arn, err)
		}
		for _, s := range out.StreamDescription.Shards {
			id := aws.ToString(s.ShardId)
			if shards[id] = p.shards[id]; shards[id] == nil {
				shards[id] = &shardState{id: id, parent: aws.ToString(s.ParentShardId)}
			}
		}
		if out.StreamDescription.LastEvaluatedShardId == nil {
			p.shards = shards
			return nil
		}
		in.ExclusiveStartShardId = out.StreamDescription.LastEvaluatedShardId
	}
}

// poll reads each shard that is due and whose parent is read, once, and
// returns when a shard is due next. A shard closed and read to its end
// asks for the shards again, which lists its children.
func (p *Poller) poll(ctx context.Context) time.Time {
	next := time.Now().Add(p.interval())
	for _, id := range slices.Sorted(maps.Keys(p.shards)) {
		s := p.shards[id]
		if s.done || !p.parentDone(s) || ctx.Err() != nil {
			continue
		}
		if time.Now().Before(s.wait) {
			next = earliest(next, s.wait)
			continue
		}
		p.read(ctx, s)
		if s.done {
			p.listed = time.Time{} // its children are listed next
			return time.Now()
		}
		next = earliest(next, s.wait)
	}
	return next
}

// noteCaughtUp records when every open shard was last found read to its
// end.
func (p *Poller) noteCaughtUp() {
	var at time.Time
	for _, s := range p.shards {
		switch {
		case s.done:
		case s.emptyAt.IsZero():
			return
		case at.IsZero() || s.emptyAt.Before(at):
			at = s.emptyAt
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.caughtUp = at
}

// parentDone reports whether s's parent is read to its end, or gone
// (trimmed from the stream, or never listed).
func (p *Poller) parentDone(s *shardState) bool {
	parent, ok := p.shards[s.parent]
	return s.parent == "" || !ok || parent.done
}

// read reads one batch of the shard and hands it on.
func (p *Poller) read(ctx context.Context, s *shardState) {
	log := p.logger().With("table", p.Table, "shard", s.id)
	if s.iterator == nil {
		if err := p.iterate(ctx, s); err != nil {
			p.gone(err)
			p.failed(ctx, s, log, "get a shard iterator", err)
			return
		}
	}
	began := time.Now()
	out, err := p.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: s.iterator,
		Limit: aws.Int32(int32(p.batchSize()))})
	var expired *streamtypes.ExpiredIteratorException
	var trimmed *streamtypes.TrimmedDataAccessException
	switch {
	case errors.As(err, &expired):
		// Unused for 15 minutes: ask again from where the shard is.
		s.iterator = nil
		return
	case errors.As(err, &trimmed):
		log.Warn("stream records trimmed before they were read: reading on from the oldest kept", "after", s.last)
		s.iterator, s.last = nil, ""
		return
	case err != nil:
		s.iterator = nil
		p.gone(err)
		p.failed(ctx, s, log, "read records", err)
		return
	}
	if len(out.Records) > 0 {
		batch := events.DynamoDBEvent{Records: make([]events.DynamoDBEventRecord, 0, len(out.Records))}
		for _, r := range out.Records {
			batch.Records = append(batch.Records, LambdaRecord(r, p.arn))
		}
		done, err := p.hand(ctx, batch)
		if done > 0 {
			s.last = batch.Records[done-1].Change.SequenceNumber
		}
		if err != nil {
			// Read again from the first record not handled, as Lambda does.
			s.iterator = nil
			p.failed(ctx, s, log, "handle records", err)
			return
		}
	}
	s.failures, s.iterator = 0, out.NextShardIterator
	switch {
	case s.iterator == nil:
		// Closed and read to its end: its children go on.
		s.done = true
	case len(out.Records) == 0:
		s.wait, s.emptyAt = time.Now().Add(p.interval()), began
	}
}

// gone asks for the table's stream and shards again when err says the
// shard or the stream is no more (trimmed, or its table deleted).
func (p *Poller) gone(err error) {
	var notFound *streamtypes.ResourceNotFoundException
	if errors.As(err, &notFound) {
		p.listed = time.Time{}
	}
}

// iterate gets the shard's iterator: after the last record handled, else
// at its oldest record.
func (p *Poller) iterate(ctx context.Context, s *shardState) error {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(p.arn), ShardId: aws.String(s.id),
		ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon}
	if s.last != "" {
		in.ShardIteratorType, in.SequenceNumber = streamtypes.ShardIteratorTypeAfterSequenceNumber, aws.String(s.last)
	}
	out, err := p.Streams.GetShardIterator(ctx, in)
	var trimmed *streamtypes.TrimmedDataAccessException
	if errors.As(err, &trimmed) && s.last != "" {
		p.logger().Warn("stream records trimmed before they were read: reading on from the oldest kept",
			"table", p.Table, "shard", s.id, "after", s.last)
		s.last = ""
		return p.iterate(ctx, s)
	}
	if err != nil {
		return err
	}
	s.iterator = out.ShardIterator
	return nil
}

// hand gives the batch to the handler and returns how many of its records,
// from the first, are done; err when not all are. Like Lambda, it takes a
// failure it cannot place in the batch for a failure of the whole batch.
func (p *Poller) hand(ctx context.Context, batch events.DynamoDBEvent) (int, error) {
	resp, err := p.Handler(ctx, batch)
	if err != nil {
		return 0, err
	}
	if len(resp.BatchItemFailures) == 0 {
		return len(batch.Records), nil
	}
	first := len(batch.Records)
	for _, f := range resp.BatchItemFailures {
		i := slices.IndexFunc(batch.Records, func(r events.DynamoDBEventRecord) bool {
			return r.Change.SequenceNumber == f.ItemIdentifier
		})
		if i < 0 {
			return 0, fmt.Errorf("the handler reported %q, no record of the batch", f.ItemIdentifier)
		}
		first = min(first, i)
	}
	return first, fmt.Errorf("record %s and those after it failed", batch.Records[first].Change.SequenceNumber)
}

// failed logs a failure and sets the shard's next read after a wait that
// doubles with each failure in a row.
func (p *Poller) failed(ctx context.Context, s *shardState, log *slog.Logger, what string, err error) {
	if ctx.Err() != nil {
		return
	}
	s.failures++
	delay := p.retryDelay() << min(s.failures-1, 5)
	log.Warn("stream batch retried", "step", what, "after", delay.String(), "err", err.Error())
	s.wait = time.Now().Add(delay)
}

func (p *Poller) batchSize() int {
	if p.BatchSize > 0 {
		return p.BatchSize
	}
	return 100
}

func (p *Poller) interval() time.Duration {
	if p.Interval > 0 {
		return p.Interval
	}
	return 250 * time.Millisecond
}

func (p *Poller) retryDelay() time.Duration {
	if p.RetryDelay > 0 {
		return p.RetryDelay
	}
	return time.Second
}

func (p *Poller) logger() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.Default()
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// LambdaRecord is a record read from a stream as Lambda hands it to a
// function: the same fields, the images as its attribute values, none for
// an image the record does not have (DynamoDB Local answers an empty one),
// and the stream's ARN as its source.
func LambdaRecord(r streamtypes.Record, streamARN string) events.DynamoDBEventRecord {
	out := events.DynamoDBEventRecord{AWSRegion: aws.ToString(r.AwsRegion), EventID: aws.ToString(r.EventID),
		EventName: string(r.EventName), EventSource: aws.ToString(r.EventSource), EventVersion: aws.ToString(r.EventVersion),
		EventSourceArn: streamARN}
	if u := r.UserIdentity; u != nil {
		out.UserIdentity = &events.DynamoDBUserIdentity{Type: aws.ToString(u.Type), PrincipalID: aws.ToString(u.PrincipalId)}
	}
	if d := r.Dynamodb; d != nil {
		out.Change = events.DynamoDBStreamRecord{Keys: lambdaImage(d.Keys), NewImage: lambdaImage(d.NewImage),
			OldImage: lambdaImage(d.OldImage), SequenceNumber: aws.ToString(d.SequenceNumber),
			SizeBytes: aws.ToInt64(d.SizeBytes), StreamViewType: string(d.StreamViewType)}
		if t := d.ApproximateCreationDateTime; t != nil {
			out.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: t.UTC()}
		}
	}
	return out
}

func lambdaImage(image map[string]streamtypes.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if len(image) == 0 {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(image))
	for name, v := range image {
		out[name] = lambdaValue(v)
	}
	return out
}

func lambdaValue(v streamtypes.AttributeValue) events.DynamoDBAttributeValue {
	switch v := v.(type) {
	case *streamtypes.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value)
	case *streamtypes.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value)
	case *streamtypes.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value)
	case *streamtypes.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value)
	case *streamtypes.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value)
	case *streamtypes.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value)
	case *streamtypes.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value)
	case *streamtypes.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, 0, len(v.Value))
		for _, e := range v.Value {
			l = append(l, lambdaValue(e))
		}
		return events.NewListAttribute(l)
	case *streamtypes.AttributeValueMemberM:
		m := make(map[string]events.DynamoDBAttributeValue, len(v.Value))
		for k, e := range v.Value {
			m[k] = lambdaValue(e)
		}
		return events.NewMapAttribute(m)
	}
	return events.NewNullAttribute()
}
