package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
	"github.com/kapso-bridge/kapso-bridge/testkit/poll"
)

// send posts a send request under key and decodes the answer.
func send(t *testing.T, s *stack.Stack, tenant, key, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/tenants/"+tenant+"/messages", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.Env.Value(config.BridgeAPIToken))
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := map[string]any{}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("answer %d is not JSON: %s", res.StatusCode, raw)
	}
	return res.StatusCode, out
}

// message is the send answer's or the read API's message.
func message(body map[string]any) map[string]any {
	if m, ok := body["message"].(map[string]any); ok {
		return m
	}
	return body
}

// waitMessage polls GET …/messages/{id} until ok, or fails after 30 s.
func waitMessage(t *testing.T, s *stack.Stack, tenant, id string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	var status int
	var m map[string]any
	if !poll.Until(30*time.Second, 100*time.Millisecond, func() bool {
		status, m = api(t, s, http.MethodGet, "/v1/tenants/"+tenant+"/messages/"+id, "")
		return status == http.StatusOK && ok(m)
	}) {
		t.Fatalf("message %s never reached the expected state: %d %v", id, status, m)
	}
	return m
}

func hasStatus(want string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["status"] == want }
}

// listed counts the messages of the conversation listed under id.
func listed(t *testing.T, s *stack.Stack, tenant, conversation, id string) int {
	t.Helper()
	_, list := api(t, s, http.MethodGet, "/v1/tenants/"+tenant+"/conversations/"+conversation+"/messages", "")
	n := 0
	msgs, _ := list["messages"].([]any)
	for _, m := range msgs {
		if m.(map[string]any)["id"] == id {
			n++
		}
	}
	return n
}

func errorCode(body map[string]any) any {
	e, _ := body["error"].(map[string]any)
	return e["code"]
}

// Sending from a tenant's number against DynamoDB Local, fauxqs and the
// simulator's Meta proxy: the simulator's count of messages it accepted
// must equal the number of distinct idempotency keys that should have
// reached a person, under retries, races, every send fault, and the
// reconciler's adoption of a send whose answer was lost.
func TestSendFromATenantsNumber(t *testing.T) {
	s := startStackEvery(t, "1h") // reconciler passes only when the test asks
	number, _ := connect(t, s, "acme")
	if err := s.Sim.SetAutoStatuses(number, []string{"delivered", "read"}); err != nil {
		t.Fatal(err)
	}
	const phone = "5215512345678"
	in := sim(t, s, "/_sim/numbers/"+number+"/messages", map[string]any{"text": "¿Tienen pan?", "from_phone": "+" + phone, "name": "Ana"})
	contact := "/v1/tenants/acme/numbers/" + number + "/contacts/" + phone
	if !poll.Until(30*time.Second, 100*time.Millisecond, func() bool {
		status, _ := api(t, s, http.MethodGet, contact, "")
		return status == http.StatusOK
	}) {
		t.Fatal("the inbound message's contact was never stored")
	}
	text := func(body string) string {
		return fmt.Sprintf(`{"to":"+%s","type":"text","text":{"body":%q}}`, phone, body)
	}
	accepted := s.Sim.SentByProxy()
	expectSent := func(t *testing.T, delta int) {
		t.Helper()
		if got := s.Sim.SentByProxy() - accepted; got != delta {
			t.Fatalf("the simulator accepted %d sends, want %d", got, delta)
		}
		accepted = s.Sim.SentByProxy()
	}

	t.Run("same key retried and raced: one message, one call", func(t *testing.T) {
		ids := make(chan string, 8)
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, body := send(t, s, "acme", "welcome-1", text("¡Sí! Hasta las 15h."))
				if status != http.StatusAccepted {
					t.Errorf("send: %d %v", status, body)
				}
				ids <- fmt.Sprint(message(body)["id"])
			}()
		}
		wg.Wait()
		close(ids)
		first := <-ids
		for id := range ids {
			if id != first {
				t.Fatalf("one key answered two messages: %s and %s", first, id)
			}
		}
		m := waitMessage(t, s, "acme", first, hasStatus("read"))
		if m["wamid"] == nil || m["conversation_id"] != in.ConversationID || m["text"] != "¡Sí! Hasta las 15h." {
			t.Errorf("sent message: %v", m)
		}
		if n := listed(t, s, "acme", in.ConversationID, first); n != 1 {
			t.Errorf("the conversation lists the message %d times", n)
		}
		status, body := send(t, s, "acme", "welcome-1", text("¡Sí! Hasta las 15h."))
		if status != http.StatusAccepted || message(body)["id"] != first || message(body)["status"] != "read" {
			t.Errorf("replay: %d %v", status, body)
		}
		if status, body := send(t, s, "acme", "welcome-1", text("Another text")); status != http.StatusConflict {
			t.Errorf("same key, another body: %d %v", status, body)
		}
		expectSent(t, 1)
	})

	t.Run("a queue message delivered twice: one call", func(t *testing.T) {
		status, body := send(t, s, "acme", "welcome-2", text("¿Algo más?"))
		if status != http.StatusAccepted {
			t.Fatalf("send: %d %v", status, body)
		}
		id := fmt.Sprint(message(body)["id"])
		waitMessage(t, s, "acme", id, hasStatus("read"))
		// SQS delivers at least once: the same job again, twice at once.
		cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
		q := &sqsqueue.OutboundQueue{URL: s.Queues[schema.Outbound.ID].URL,
			Client: sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(s.Services.SQSEndpoint) })}
		for range 2 {
			if err := q.Enqueue(context.Background(), messaging.OutboundJob{TenantID: "acme", ID: id}, 0); err != nil {
				t.Fatal(err)
			}
		}
		drained(t, s, schema.Outbound.ID) // the pollers took both copies, and are done with them
		expectSent(t, 1)
	})

	faulted := func(t *testing.T, f kapsosim.SendFaults, key, want string) map[string]any {
		t.Helper()
		if err := s.Sim.SetSendFaults(f); err != nil {
			t.Fatal(err)
		}
		status, body := send(t, s, "acme", key, text("Pedido "+key))
		if status != http.StatusAccepted || message(body)["status"] != "queued" {
			t.Fatalf("send: %d %v", status, body)
		}
		return waitMessage(t, s, "acme", fmt.Sprint(message(body)["id"]), hasStatus(want))
	}
	t.Run("a 5xx, then sent", func(t *testing.T) {
		faulted(t, kapsosim.SendFaults{Calls: 1, Fault: kapsosim.SendFault5xx}, "order-5xx", "read")
		expectSent(t, 1)
	})
	t.Run("a 429 is waited out", func(t *testing.T) {
		start := time.Now()
		faulted(t, kapsosim.SendFaults{Calls: 1, Fault: kapsosim.SendFault429, RetryAfter: time.Second}, "order-429", "read")
		if time.Since(start) < time.Second {
			t.Errorf("sent %s after a 429 with Retry-After 1 s", time.Since(start))
		}
		expectSent(t, 1)
	})
	t.Run("a permanent error fails the message with Meta's code", func(t *testing.T) {
		m := faulted(t, kapsosim.SendFaults{Calls: 1, Fault: kapsosim.SendFaultPermanent, Code: 131026}, "order-bad", "failed")
		e, _ := m["error"].(map[string]any)
		if m["failure_reason"] != "rejected" || e["code"] != float64(131026) || m["wamid"] != nil {
			t.Errorf("failed message: %v", m)
		}
		if n := listed(t, s, "acme", in.ConversationID, fmt.Sprint(m["id"])); n != 1 {
			t.Errorf("the conversation lists the failed message %d times", n)
		}
		expectSent(t, 0)
	})
	t.Run("a timeout after Kapso accepted, adopted by the reconciler", func(t *testing.T) {
		m := faulted(t, kapsoapiTimeout(), "order-lost", "unknown")
		id := fmt.Sprint(m["id"])
		expectSent(t, 1)
		// Its webhooks (sent, delivered, read) arrive while the send is
		// unknown: statuses before the send is recorded.
		settled(t, s)
		status, body := api(t, s, http.MethodPost, stack.ReconcilePath, "")
		if status != http.StatusOK {
			t.Fatalf("reconcile: %d %v", status, body)
		}
		m = waitMessage(t, s, "acme", id, hasStatus("read"))
		if m["wamid"] == nil {
			t.Errorf("adopted message without its WAMID: %v", m)
		}
		if !poll.Until(10*time.Second, 200*time.Millisecond, func() bool {
			return listed(t, s, "acme", in.ConversationID, id) == 1 && listed(t, s, "acme", in.ConversationID, fmt.Sprint(m["wamid"])) == 0
		}) {
			t.Fatalf("the conversation does not list the adopted message once under its outbound id")
		}
		expectSent(t, 0)
	})
	t.Run("free-form outside the 24-hour window is refused, a template goes", func(t *testing.T) {
		status, body := send(t, s, "acme", "stranger-1", `{"to":"+16505550000","type":"text","text":{"body":"Hi"}}`)
		if status != http.StatusUnprocessableEntity || errorCode(body) != "outside_customer_service_window" {
			t.Errorf("free-form to a stranger: %d %v", status, body)
		}
		status, body = send(t, s, "acme", "stranger-2",
			`{"to":"+16505550000","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`)
		if status != http.StatusAccepted {
			t.Fatalf("template: %d %v", status, body)
		}
		waitMessage(t, s, "acme", fmt.Sprint(message(body)["id"]), hasStatus("read"))
		expectSent(t, 1)
	})
	t.Run("a BSUID recipient", func(t *testing.T) {
		const bsuid = "BR.77210938475610293847"
		sim(t, s, "/_sim/numbers/"+number+"/messages", map[string]any{"text": "Olá", "from_bsuid": bsuid, "name": "João"})
		var status int
		var body map[string]any
		poll.Until(30*time.Second, 200*time.Millisecond, func() bool {
			status, body = send(t, s, "acme", "bsuid-1", `{"recipient":"`+bsuid+`","type":"text","text":{"body":"Olá João"}}`)
			return status != http.StatusUnprocessableEntity // 422 until the inbound message is stored
		})
		if status != http.StatusAccepted {
			t.Fatalf("send to a BSUID: %d %v", status, body)
		}
		m := waitMessage(t, s, "acme", fmt.Sprint(message(body)["id"]), hasStatus("read"))
		to, _ := m["to"].(map[string]any)
		if to["business_scoped_user_id"] != bsuid {
			t.Errorf("sent to %v", m["to"])
		}
		expectSent(t, 1)
	})
	t.Run("another tenant's number", func(t *testing.T) {
		other, _ := connect(t, s, "globex")
		status, body := send(t, s, "acme", "foreign-1",
			fmt.Sprintf(`{"phone_number_id":%q,"to":"+%s","type":"text","text":{"body":"Hi"}}`, other, phone))
		if status != http.StatusNotFound {
			t.Errorf("send from another tenant's number: %d %v", status, body)
		}
		if status, body := send(t, s, "nobody", "x-1", text("Hi")); status != http.StatusNotFound {
			t.Errorf("unknown tenant: %d %v", status, body)
		}
		expectSent(t, 0)
	})
	t.Run("bad requests change nothing", func(t *testing.T) {
		for _, c := range []struct {
			key, body string
			status    int
		}{
			{"", text("Hi"), http.StatusBadRequest},
			{strings.Repeat("k", 256), text("Hi"), http.StatusBadRequest},
			{"b-1", `{"to":"+1","type":"text","text":{"body":"Hi"}}`, http.StatusBadRequest},
			{"b-2", `{"to":"+` + phone + `","type":"text","text":{"body":""}}`, http.StatusBadRequest},
			{"b-3", `{"to":"+` + phone + `","type":"sticker"}`, http.StatusBadRequest},
		} {
			if status, body := send(t, s, "acme", c.key, c.body); status != c.status {
				t.Errorf("%q %s: %d %v", c.key, c.body, status, body)
			}
		}
		expectSent(t, 0)
	})
}

// kapsoapiTimeout is a send the simulator accepts and never answers.
func kapsoapiTimeout() kapsosim.SendFaults {
	return kapsosim.SendFaults{Calls: 1, Fault: kapsosim.SendFaultTimeoutAfterAccept}
}
