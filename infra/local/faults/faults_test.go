package faults

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Every request fails at rate 1; the SDK retries each fault as a network
// failure and finally reports the injected error. A timeout fault still
// reaches the server.
func TestMiddlewareFailsRequestsTheSDKRetries(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write([]byte(`{"TableNames":[]}`))
	}))
	defer srv.Close()
	inj := New(1, 42, nil)
	db := dynamodb.NewFromConfig(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.APIOptions = append(o.APIOptions, inj.Middleware)
	})
	_, err := db.ListTables(context.Background(), &dynamodb.ListTablesInput{})
	var fe *Error
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want an injected fault", err)
	}
	if inj.Total() != 3 {
		t.Errorf("faults = %d (%v), want 3: the first attempt and the SDK's two retries", inj.Total(), inj.Counts())
	}
	timeouts := inj.Counts()["DynamoDB.ListTables timeout"]
	if hits != timeouts {
		t.Errorf("server saw %d requests, want one per timeout fault (%d)", hits, timeouts)
	}
	off := New(0, 42, nil)
	db = dynamodb.NewFromConfig(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.APIOptions = append(o.APIOptions, off.Middleware)
	})
	if _, err := db.ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil || off.Total() != 0 {
		t.Errorf("rate 0: err %v, %d faults", err, off.Total())
	}
}

func TestHTTPFaultsOnlyUnderPrefix(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	h := &HTTP{Next: ok, Prefix: "/platform/", Rate: 1, Seed: 1, Hold: 1}
	codes := map[int]int{}
	for range 40 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/platform/v1/customers", nil))
		codes[rec.Code]++
	}
	for _, c := range []int{500, 503, 429, 504} {
		if codes[c] == 0 {
			t.Errorf("no %d among %v", c, codes)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/_sim/state", nil))
	if rec.Code != http.StatusOK || h.Total() != 40 {
		t.Errorf("outside the prefix: %d, total %d", rec.Code, h.Total())
	}
}
