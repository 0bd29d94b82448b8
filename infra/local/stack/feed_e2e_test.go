package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// The feed routes and the app page read what is appended to the stack's
// events table. The events are appended as if a little more than the
// settle delay ago, so they are listed at once.
func TestEventsFeedOnTheStack(t *testing.T) {
	s := startStackEvery(t, "1h")
	newLink(t, s, "ev-acme")
	db := dynamodb.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")},
		func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(s.DynamoDBEndpoint) })
	past := &dynamo.Feed{DB: db, Table: s.Tables[schema.Events.ID],
		Now: func() time.Time { return time.Now().Add(-eventing.Settle - time.Second) }}
	ev := func(tenant, typ string, i int, data any) bridgeevents.Event {
		b, err := json.Marshal(data)
		if err != nil {
			t.Fatal(err)
		}
		return bridgeevents.Event{ID: fmt.Sprintf("evt_%s_%d", tenant, i), Type: typ, TenantID: tenant, Timestamp: time.Now().UTC(),
			Source: bridgeevents.SourceAPI, Subject: fmt.Sprintf("message:out_%d", i), Version: int64(i), Data: b}
	}
	status := func(tenant string, i int) bridgeevents.Event {
		return ev(tenant, bridgeevents.MessageStatusChanged, i, bridgeevents.MessageStatus{TenantID: tenant,
			MessageID: fmt.Sprintf("out_%d", i), PhoneNumberID: "111", Status: "accepted", PreviousStatus: "sending"})
	}
	tenantStatus := ev("ev-acme", bridgeevents.TenantStatusChanged, 3, bridgeevents.TenantStatus{TenantID: "ev-acme",
		Status: "link_active", PreviousStatus: "not_started", NeedsAttention: []string{}, Reason: "setup link created"})
	if err := past.Append(context.Background(), []bridgeevents.Event{status("ev-acme", 1), status("ev-beta", 2), tenantStatus}); err != nil {
		t.Fatal(err)
	}
	ids := func(body map[string]any) []string {
		out := []string{}
		for _, e := range body["events"].([]any) {
			out = append(out, e.(map[string]any)["id"].(string))
		}
		return out
	}
	list := func(path string) ([]string, string) {
		t.Helper()
		code, body := api(t, s, http.MethodGet, path, "")
		cursor, _ := body["next_cursor"].(string)
		if code != http.StatusOK || cursor == "" {
			t.Fatalf("GET %s: %d %v", path, code, body)
		}
		return ids(body), cursor
	}
	if got, _ := list("/v1/events"); !slices.Equal(got, []string{"evt_ev-acme_1", "evt_ev-beta_2", "evt_ev-acme_3"}) {
		t.Errorf("the stack's feed: %v", got)
	}
	if got, _ := list("/v1/tenants/ev-acme/events?type=tenant.status_changed"); !slices.Equal(got, []string{"evt_ev-acme_3"}) {
		t.Errorf("ev-acme's tenant events: %v", got)
	}
	var got []string
	cursor := ""
	for range 3 {
		page, next := list("/v1/tenants/ev-acme/events?limit=1&cursor=" + url.QueryEscape(cursor))
		got, cursor = append(got, page...), next
	}
	if !slices.Equal(got, []string{"evt_ev-acme_1", "evt_ev-acme_3"}) {
		t.Errorf("ev-acme's feed, page by page: %v", got)
	}
	if code, body := api(t, s, http.MethodGet, "/v1/tenants/ev-beta/events?cursor="+url.QueryEscape(cursor), ""); code != http.StatusBadRequest ||
		body["error"].(map[string]any)["code"] != "invalid_cursor" {
		t.Errorf("another tenant's cursor: %d %v", code, body)
	}
	// Appended later, it comes from the cursor the last page gave.
	if err := past.Append(context.Background(), []bridgeevents.Event{status("ev-acme", 4)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := list("/v1/tenants/ev-acme/events?cursor=" + url.QueryEscape(cursor)); !slices.Equal(got, []string{"evt_ev-acme_4"}) {
		t.Errorf("after the last page: %v", got)
	}

	res, err := http.Get(s.URL + "/app/connected?tenant_id=ev-acme")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	page, _ := io.ReadAll(res.Body)
	body := string(page)
	first, last := strings.Index(body, `data-id="evt_ev-acme_4"`), strings.Index(body, `data-id="evt_ev-acme_1"`)
	if first < 0 || last < first || !strings.Contains(body, "not_started → link_active; setup link created") ||
		strings.Contains(body, "evt_ev-beta_2") {
		t.Errorf("the app page's events:\n%s", body)
	}
}
