package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/routes"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// function is how to start one Lambda function and what to send it first.
type function struct {
	// env names the settings it is given: those it reads (config.ReadBy)
	// that settings has a value for, so every function sees the same
	// plausible configuration. The others take their defaults.
	env []string
	// event is the first invocation: one the function answers without any
	// AWS data, so the figure is start-up plus a cheap request.
	event []byte
	// check accepts the answer to event, so a figure is never taken from a
	// function that answered some other way than intended.
	check func(body []byte) error
}

// functions has one entry per directory of functions/. A function without
// an entry stops the run.
var functions = map[string]function{
	"ingest": {
		env: given(config.Ingest),
		// Unsigned: refused by the signature check, before any AWS call.
		event: httpRequest{route: routes.ProjectWebhook, path: routes.ProjectWebhook.Path,
			headers: map[string]string{"content-type": "application/json", "x-webhook-event": "whatsapp.message.received"},
			body:    `{"message":{"id":"wamid.coldstart"}}`}.event(),
		check: wantHTTPStatus(http.StatusUnauthorized),
	},
	"lifecycle": {
		env:   given(config.Lifecycle),
		event: mustJSON(events.SQSEvent{Records: []events.SQSMessage{}}),
		check: wantNoBatchItemFailures,
	},
	"messages": {
		env:   given(config.Messages),
		event: mustJSON(events.SQSEvent{Records: []events.SQSMessage{}}),
		check: wantNoBatchItemFailures,
	},
	"outbound": {
		env:   given(config.Outbound),
		event: mustJSON(events.SQSEvent{Records: []events.SQSMessage{}}),
		check: wantNoBatchItemFailures,
	},
	"publisher": {
		env:   given(config.Publisher),
		event: mustJSON(events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{}}),
		check: wantNoStreamFailures,
	},
	"eventwebhooks": {
		env:   given(config.EventWebhooks),
		event: mustJSON(events.SQSEvent{Records: []events.SQSMessage{}}),
		check: wantNoBatchItemFailures,
	},
	"media": {
		env:   given(config.Media),
		event: mustJSON(events.SQSEvent{Records: []events.SQSMessage{}}),
		check: wantNoBatchItemFailures,
	},
	"reconcile": {
		env: given(config.Reconcile),
		// The schedule's event; the handler ignores it. Its index queries get
		// empty pages from the AWS stub, so the pass finds no work.
		event: mustJSON(events.EventBridgeEvent{Version: "0", ID: "7bf73129-1428-4cd3-a780-95db273d1602",
			DetailType: "Scheduled Event", Source: "aws.events", AccountID: accountID, Time: eventTime, Region: region,
			Resources: []string{"arn:aws:events:" + region + ":" + accountID + ":rule/kapso-bridge-reconcile"},
			Detail:    json.RawMessage(`{}`)}),
		check: wantCleanReconcileReport,
	},
	"redirect": {
		env: given(config.Redirect),
		// No setup link id: sent on to the failure page before any lookup.
		event: httpRequest{route: routes.ConnectFailure, path: routes.ConnectFailure.Path,
			headers: map[string]string{"accept": "text/html"}}.event(),
		check: wantHTTPStatus(http.StatusFound),
	},
	"tenantapi": {
		env: given(config.TenantAPI),
		// No bearer token: refused before the store or Kapso is asked.
		event: httpRequest{route: routes.CreateSetupLink, path: "/v1/tenants/tenant-1/setup-links",
			params:  map[string]string{routes.TenantID: "tenant-1"},
			headers: map[string]string{"content-type": "application/json"}, body: `{"tenant_name":"Acme"}`}.event(),
		check: wantHTTPStatus(http.StatusUnauthorized),
	},
}

const (
	region    = "us-east-1"
	accountID = "123456789012"
)

// eventTime is fixed so every run sends the same bytes.
var eventTime = time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)

// settings are the values coldstart gives the settings functions read.
// Secrets are plain values, not their ARN variables, so no Secrets Manager
// call happens at init; everything with an address points at the AWS stub
// on 127.0.0.1. A setting left out takes its default.
func settings(stubURL string) map[string]string {
	return map[string]string{
		config.BridgeTable.Name:           "kapso-bridge-" + schema.Bridge.ID,
		config.IdempotencyTable.Name:      "kapso-bridge-" + schema.Idempotency.ID,
		config.EventsTable.Name:           "kapso-bridge-" + schema.Events.ID,
		config.EventsTopicARN.Name:        "arn:aws:sns:" + region + ":" + accountID + ":kapso-bridge-" + schema.EventsTopic.ID,
		config.LifecycleQueueURL.Name:     stubURL + "/" + accountID + "/kapso-bridge-" + schema.Lifecycle.ID,
		config.MessagesQueueURL.Name:      stubURL + "/" + accountID + "/kapso-bridge-" + schema.Messages.ID,
		config.LifecycleDLQURL.Name:       stubURL + "/" + accountID + "/kapso-bridge-" + schema.Lifecycle.DLQID(),
		config.MessagesDLQURL.Name:        stubURL + "/" + accountID + "/kapso-bridge-" + schema.Messages.DLQID(),
		config.OutboundQueueURL.Name:      stubURL + "/" + accountID + "/kapso-bridge-" + schema.Outbound.ID,
		config.OutboundDLQURL.Name:        stubURL + "/" + accountID + "/kapso-bridge-" + schema.Outbound.DLQID(),
		config.EventWebhooksQueueURL.Name: stubURL + "/" + accountID + "/kapso-bridge-" + schema.EventWebhooks.ID,
		config.EventWebhooksDLQURL.Name:   stubURL + "/" + accountID + "/kapso-bridge-" + schema.EventWebhooks.DLQID(),
		config.MediaQueueURL.Name:         stubURL + "/" + accountID + "/kapso-bridge-" + schema.Media.ID,
		config.MediaDLQURL.Name:           stubURL + "/" + accountID + "/kapso-bridge-" + schema.Media.DLQID(),
		config.MediaBucket.Name:           "kapso-bridge-" + schema.MediaBucket.ID,
		config.KapsoMetaBaseURL.Name:      stubURL + "/meta/whatsapp",
		config.KapsoAPIBaseURL.Name:       stubURL + "/platform/v1",
		config.KapsoAPIKey.Name:           "coldstart-kapso-api-key",
		config.ProjectWebhookSecret.Name:  "coldstart-project-webhook-secret",
		config.MetaAppSecret.Name:         "coldstart-meta-app-secret",
		config.BridgeAPIToken.Name:        "coldstart-bridge-api-token",
		config.ErasureHashKey.Name:        "coldstart-erasure-hash-key-of-32-bytes",
		// A signing secret is whsec_ and the base64 of at least 24 bytes.
		config.EventsWebhookSecret.Name: "whsec_Y29sZHN0YXJ0LWV2ZW50cy13ZWJob29rLXNlY3JldA==",
		config.EventsWebhookURL.Name:    "https://app.example.com/kapso/events",
		config.PublicBaseURL.Name:       "https://bridge.example.com",
		config.AppSuccessURL.Name:       "https://app.example.com/whatsapp/connected",
		config.AppFailureURL.Name:       "https://app.example.com/whatsapp/failed",
	}
}

// given names the settings fn reads that settings has a value for.
func given(fn config.Function) []string {
	vals := settings("")
	var names []string
	for _, s := range config.ReadBy(fn) {
		if _, ok := vals[s.Name]; ok {
			names = append(names, s.Name)
		}
	}
	return names
}

// httpRequest is an API Gateway HTTP API (payload 2.0) request.
type httpRequest struct {
	route             routes.Route
	path, query, body string
	headers, params   map[string]string
}

func (r httpRequest) event() []byte {
	method := r.route.Method
	const domain = "abc123def4.execute-api." + region + ".amazonaws.com"
	headers := map[string]string{"host": domain, "user-agent": "coldstart", "x-forwarded-proto": "https"}
	for k, v := range r.headers {
		headers[k] = v
	}
	if r.body != "" {
		headers["content-length"] = fmt.Sprint(len(r.body))
	}
	e := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       r.route.Pattern(),
		RawPath:        r.path,
		RawQueryString: r.query,
		Headers:        headers,
		PathParameters: r.params,
		Body:           r.body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     r.route.Pattern(),
			AccountID:    accountID,
			Stage:        "$default",
			RequestID:    "Xk3Jh0coldstart=",
			APIID:        "abc123def4",
			DomainName:   domain,
			DomainPrefix: "abc123def4",
			Time:         eventTime.Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    eventTime.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: method, Path: r.path, Protocol: "HTTP/1.1", SourceIP: "203.0.113.10", UserAgent: "coldstart",
			},
		},
	}
	return mustJSON(e)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode event: %v", err)) // only fixed values are encoded
	}
	return b
}

func wantHTTPStatus(status int) func([]byte) error {
	return func(body []byte) error {
		var res events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(body, &res); err != nil {
			return fmt.Errorf("answer is not an HTTP API response: %w: %s", err, excerpt(body))
		}
		if res.StatusCode != status {
			return fmt.Errorf("answered HTTP %d, want %d: %s", res.StatusCode, status, excerpt([]byte(res.Body)))
		}
		return nil
	}
}

func wantNoStreamFailures(body []byte) error {
	var res events.DynamoDBEventResponse
	if err := json.Unmarshal(body, &res); err != nil {
		return fmt.Errorf("answer is not a stream batch response: %w: %s", err, excerpt(body))
	}
	if len(res.BatchItemFailures) > 0 {
		return fmt.Errorf("reported %d failed records of an empty batch", len(res.BatchItemFailures))
	}
	return nil
}

func wantNoBatchItemFailures(body []byte) error {
	var res events.SQSEventResponse
	if err := json.Unmarshal(body, &res); err != nil {
		return fmt.Errorf("answer is not an SQS batch response: %w: %s", err, excerpt(body))
	}
	if len(res.BatchItemFailures) > 0 {
		return fmt.Errorf("reported %d failed messages of an empty batch", len(res.BatchItemFailures))
	}
	return nil
}

func wantCleanReconcileReport(body []byte) error {
	var rep struct {
		Errors *int `json:"errors"`
	}
	if err := json.Unmarshal(body, &rep); err != nil || rep.Errors == nil {
		return fmt.Errorf("answer is not a reconcile report: %s", excerpt(body))
	}
	if *rep.Errors != 0 {
		return fmt.Errorf("reconcile counted %d errors: %s", *rep.Errors, excerpt(body))
	}
	return nil
}

// checkTable matches the table against the directories of functions/ and
// the settings it may use: each function must be given every setting it
// cannot start without.
func checkTable(dirs []string, known map[string]string) error {
	var errList []error
	have := map[string]bool{}
	for _, d := range dirs {
		have[d] = true
		if _, ok := functions[d]; !ok {
			errList = append(errList, fmt.Errorf("functions/%s has no entry in the coldstart table (infra/local/cmd/coldstart/functions.go)", d))
		}
	}
	for name := range functions {
		if !have[name] {
			errList = append(errList, fmt.Errorf("coldstart table has %q but functions/%s does not exist", name, name))
		}
		for _, s := range config.ReadBy(config.Function(name)) {
			if _, ok := known[s.Name]; !ok && s.Required() {
				errList = append(errList, fmt.Errorf("coldstart table: %s reads %s, which settings does not define", name, s.Name))
			}
		}
	}
	return errors.Join(errList...)
}
