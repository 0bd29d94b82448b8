package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// awsStub stands in for every AWS endpoint and the Kapso API, so a function
// under measurement never reaches the network. DynamoDB reads find nothing;
// anything else is refused with a 400 the SDKs can parse.
type awsStub struct {
	URL string
	srv *http.Server
}

func startAWSStub(log *slog.Logger) (*awsStub, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the aws stub: %w", err)
	}
	s := &awsStub{URL: "http://" + ln.Addr().String()}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		log.Debug("aws stub request", "method", r.Method, "path", r.URL.Path, "target", target)
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 8<<20))
		op, isDynamo := strings.CutPrefix(target, "DynamoDB_20120810.")
		switch {
		case isDynamo && (op == "Query" || op == "Scan"):
			writeJSON(w, http.StatusOK, `{"Items":[],"Count":0,"ScannedCount":0}`)
		case isDynamo:
			writeJSON(w, http.StatusOK, `{}`)
		case target == "AmazonSQS.GetQueueAttributes":
			// The reconciler's dead-letter report: empty queues.
			writeJSON(w, http.StatusOK, `{"Attributes":{"ApproximateNumberOfMessages":"0"}}`)
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/platform/v1/"):
			// The reconciler's Platform API lists: nothing to catch up.
			writeJSON(w, http.StatusOK, `{"data":[],"paging":{"cursors":{},"next":""}}`)
		default:
			msg, _ := json.Marshal(map[string]string{"__type": "com.amazonaws.coldstart#NotServed",
				"message": "the coldstart stub serves no " + r.Method + " " + r.URL.Path + " " + target})
			writeJSON(w, http.StatusBadRequest, string(msg))
		}
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *awsStub) Close() error { return s.srv.Close() }

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
