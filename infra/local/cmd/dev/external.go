package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go/middleware"

	"github.com/kapso-bridge/kapso-bridge/infra/local/faults"
	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
)

// Variables of make chaos's runs (infra/local/cmd/chaos), read by the dev
// binary besides its settings. Unset, make dev behaves as always.
const (
	// envDynamoDB and envSQS name DynamoDB and SQS servers already running:
	// the stack uses them instead of starting its own, and keeps what it
	// finds there, so a restarted process goes on with the same data.
	envDynamoDB = "KB_DYNAMODB_ENDPOINT"
	envSQS      = "KB_SQS_ENDPOINT"
	// envFaultRate (0 to 1) fails that share of DynamoDB and SQS requests,
	// drawn from envFaultSeed; envFaultLog names a file that gets one line
	// per injected fault. GET /_dev/faults answers the counts.
	envFaultRate = "KB_FAULT_RATE"
	envFaultSeed = "KB_FAULT_SEED"
	envFaultLog  = "KB_FAULT_LOG"
	// envVisibility (a duration) replaces the queues' visibility timeout.
	envVisibility = "KB_QUEUE_VISIBILITY"
	// envPollers is how many batches of each queue are handled at once.
	envPollers = "KB_POLLERS"
	// envRetryBackoff (a duration) caps the AWS SDK's wait between retries.
	envRetryBackoff = "KB_AWS_RETRY_MAX_BACKOFF"
	// envEventWebhooksSchedule (durations, comma-separated) replaces the
	// event webhooks' waits between attempts, so a run sees every event
	// through its retries in seconds.
	envEventWebhooksSchedule = "KB_EVENT_WEBHOOKS_SCHEDULE"
)

// FaultsPath is the local server's route answering the injected faults.
const FaultsPath = "/_dev/faults"

// applyExternal adds to o what the KB_ variables ask for. The returned
// function closes what it opened.
func applyExternal(o *stack.Options, getenv func(string) string) (func(), error) {
	closeAll := func() {}
	o.DynamoDBEndpoint, o.SQSEndpoint = getenv(envDynamoDB), getenv(envSQS)
	if (o.DynamoDBEndpoint == "") != (o.SQSEndpoint == "") {
		return closeAll, fmt.Errorf("set both %s and %s, or neither", envDynamoDB, envSQS)
	}
	if v := getenv(envVisibility); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			return closeAll, fmt.Errorf("%s=%q: want a duration of at least 1s", envVisibility, v)
		}
		o.QueueVisibilityTimeout = d
	}
	if v := getenv(envPollers); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 64 {
			return closeAll, fmt.Errorf("%s=%q: want 1 to 64", envPollers, v)
		}
		o.Pollers = n
	}
	if v := getenv(envRetryBackoff); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return closeAll, fmt.Errorf("%s=%q: want a positive duration", envRetryBackoff, v)
		}
		o.AWSRetryMaxBackoff = d
	}
	if v := getenv(envEventWebhooksSchedule); v != "" {
		schedule, err := parseSchedule(v)
		if err != nil {
			return closeAll, fmt.Errorf("%s=%q: %w", envEventWebhooksSchedule, v, err)
		}
		o.EventWebhooksSchedule = schedule
	}
	rateText := getenv(envFaultRate)
	if rateText == "" {
		return closeAll, nil
	}
	rate, err := strconv.ParseFloat(rateText, 64)
	if err != nil || rate < 0 || rate > 1 {
		return closeAll, fmt.Errorf("%s=%q: want a number from 0 to 1", envFaultRate, rateText)
	}
	var seed uint64
	if v := getenv(envFaultSeed); v != "" {
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			return closeAll, fmt.Errorf("%s=%q: want an unsigned integer", envFaultSeed, v)
		}
	} else {
		seed = uint64(time.Now().UnixNano())
	}
	// Each process of a run draws anew: a restarted one must not repeat the
	// faults of the one before.
	seed ^= uint64(os.Getpid()) << 32
	var log *os.File
	if p := getenv(envFaultLog); p != "" {
		if log, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return closeAll, fmt.Errorf("%s: %w", envFaultLog, err)
		}
		closeAll = func() { _ = log.Close() }
	}
	var inj *faults.Injector
	if log != nil {
		inj = faults.New(rate, seed, log)
	} else {
		inj = faults.New(rate, seed, nil)
	}
	o.AWSMiddleware = append(o.AWSMiddleware, func(s *middleware.Stack) error { return inj.Middleware(s) })
	if o.DevRoutes == nil {
		o.DevRoutes = map[string]http.Handler{}
	}
	o.DevRoutes["GET "+FaultsPath] = inj.Handler()
	return closeAll, nil
}

// parseSchedule reads waits between attempts: whole seconds, as SQS holds a
// message back, from 1 s to its 12 hours.
func parseSchedule(v string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(v, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || d < time.Second || d > 12*time.Hour || d%time.Second != 0 {
			return nil, fmt.Errorf("want whole seconds from 1s to 12h, comma-separated")
		}
		out = append(out, d)
	}
	return out, nil
}
