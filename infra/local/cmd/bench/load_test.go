package main

import (
	"math"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestPercentileIsNearestRank(t *testing.T) {
	vs := []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for _, c := range []struct{ p, want float64 }{{50, 5}, {99, 10}, {100, 10}, {10, 1}, {1, 1}, {90, 9}} {
		if got := percentile(vs, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if vs[0] != 5 {
		t.Error("percentile sorted its argument")
	}
	if percentile(nil, 50) != 0 {
		t.Error("empty: want 0")
	}
	d := distOf([]float64{1, 2, 3, 4})
	if d.N != 4 || d.P50 != 2 || d.Max != 4 || d.Mean != 2.5 {
		t.Errorf("dist %+v", d)
	}
}

func TestBilledDurationRoundsUpToTheMillisecond(t *testing.T) {
	if billedMs(1.01) != 2 || billedMs(3) != 3 || billedMs(0.2) != 1 {
		t.Error("billed ms")
	}
	if chunks(1589, 64<<10) != 1 || chunks(65537, 64<<10) != 2 || chunks(0, 512<<10) != 1 {
		t.Error("chunks")
	}
}

func TestCostPerMillionMessageEvents(t *testing.T) {
	in := costInputs{IngestAWSCalls: 3, WorkerWritesMessage: 3, WorkerWritesStatus: 1, DeliveryBytes: 1589,
		QueueMessageBytes: 1900, IngestBilledMs: 4, WorkerBilledMs: 20, WorkerBatch: 10}
	c := costOf(in)
	msg, status := c.Models[0], c.Models[1]
	if msg.Event != "message" || status.Event != "status" {
		t.Fatalf("models %v %v", msg.Event, status.Event)
	}
	line := func(m costModel, prefix string) costLine { return costLineOf(t, m, prefix) }
	near := func(what string, got, want float64) { nearly(t, what, got, want) }
	// A million deliveries through the HTTP API: $1.00.
	near("http api", line(msg, "API Gateway").USD, 1.00)
	// A million ingest invocations and 100,000 worker batches: 1.1 M × $0.20.
	near("lambda requests", line(msg, "Lambda requests").USD, 0.22)
	// 1 M × 4 ms × 0.5 GB = 2,000 GB-s; 100,000 × 20 ms × 0.25 GB = 500 GB-s.
	near("ingest GB-s", line(msg, "Lambda GB-seconds, ingest").Quantity, 2000)
	near("worker GB-s", line(msg, "Lambda GB-seconds, messages").Quantity, 500)
	near("ingest GB-s $", line(msg, "Lambda GB-seconds, ingest").USD, 2000*priceLambdaGBSecondArm64)
	// Two writes at the ingest (claim, accept), three at the worker (one for a status).
	near("ingest WRU", line(msg, "DynamoDB write request units, ingest").Quantity, 2e6)
	near("worker WRU", line(msg, "DynamoDB write request units, messages").Quantity, 3e6)
	near("worker WRU status", line(status, "DynamoDB write request units, messages").Quantity, 1e6)
	near("worker WRU $", line(msg, "DynamoDB write request units, messages").USD, 3*priceDynamoDBWriteMillion)
	// One send per delivery, a receive and a delete per batch of 10.
	near("sqs", line(msg, "SQS").Quantity, 1.2e6)
	near("sqs $", line(msg, "SQS").USD, 1.2*priceSQSMillion)
	var sum float64
	for _, l := range msg.Lines {
		sum += l.USD
	}
	near("total", msg.USD, sum)
	if status.USD >= msg.USD {
		t.Errorf("a status (%v) costs no less than a message (%v)", status.USD, msg.USD)
	}
}

// costLineOf is m's line whose item begins with prefix.
func costLineOf(t *testing.T, m costModel, prefix string) costLine {
	t.Helper()
	for _, l := range m.Lines {
		if strings.HasPrefix(l.Item, prefix) {
			return l
		}
	}
	t.Fatalf("no line %q", prefix)
	return costLine{}
}

func nearly(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9 {
		t.Errorf("%s: %v, want %v", what, got, want)
	}
}

func TestItemSizeFollowsDynamoDBRules(t *testing.T) {
	it := map[string]types.AttributeValue{
		"pk":  &types.AttributeValueMemberS{Value: "TENANT#acme"},
		"sk":  &types.AttributeValueMemberS{Value: "MSG#wamid.1"},
		"ttl": &types.AttributeValueMemberN{Value: "1773151320"},
		"ok":  &types.AttributeValueMemberBOOL{Value: true},
		"tags": &types.AttributeValueMemberL{Value: []types.AttributeValue{
			&types.AttributeValueMemberS{Value: "a"}}},
	}
	// Names plus values: 2+11, 2+11, 3+6 (nine significant digits: 5, plus 1),
	// 2+1, 4+(3+1+1).
	if got, want := sizeOfItem(it), 13+13+9+3+9; got != want {
		t.Errorf("size %d, want %d", got, want)
	}
	if kindOf(it) != "MSG" {
		t.Errorf("kind %q", kindOf(it))
	}
	if k := kindOf(map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "claim#k"}}); k != "claim" {
		t.Errorf("kind without sort key %q", k)
	}
}

func TestCPUPerOperation(t *testing.T) {
	got := cpuPer(cpuSample{"self": 1, "java": 2}, cpuSample{"self": 4, "java": 8, "node": 0.5, "sh": 9}, 1000)
	if got["bench_process"] != 3 || got["dynamodb_local"] != 6 || got["fauxqs"] != 0.5 || len(got) != 3 {
		t.Errorf("cpu per op %v", got)
	}
	if _, _, _, ok := procStat(os.Getpid()); !ok && runtime.GOOS == "linux" {
		t.Error("no /proc stat for this process")
	}
}
