package stack_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/testkit/poll"
)

// startAutoreply builds the example consumer (examples/autoreply) and runs
// it as make autoreply does, replying through api; it returns the URL it
// takes events at.
func startAutoreply(t *testing.T, api, secret, token string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "autoreply")
	build := exec.Command("go", "build", "-o", bin, "./examples/autoreply")
	build.Dir = filepath.Join("..", "..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build examples/autoreply: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-api", api, "-text", "Recebido!")
	cmd.Env = append(os.Environ(), "EVENTS_WEBHOOK_SECRET="+secret, "BRIDGE_API_TOKEN="+token)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("autoreply's log:\n%s", logs.String())
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	m := regexp.MustCompile(`at (http://127\.0\.0\.1:\d+/events),`).FindStringSubmatch(line)
	if err != nil || m == nil {
		t.Fatalf("autoreply said %q (%v)\n%s", line, err, logs.String())
	}
	return m[1]
}

// deliverTo POSTs an event to a webhook URL as kapso-bridge does, signed
// with secret, and returns the answer's status.
func deliverTo(t *testing.T, url, secret string, event []byte) int {
	t.Helper()
	key, err := bridgeevents.Secret(secret)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := bridgeevents.Decode(event)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(event))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(bridgeevents.HeaderID, ev.ID)
	req.Header.Set(bridgeevents.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(bridgeevents.HeaderSignature, bridgeevents.Sign(key, ev.ID, now, event))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// toldEvent is the message.received event the stack told of the message
// wamid, read from the tenant's feed once it settled.
func toldEvent(t *testing.T, s *stack.Stack, tenant, wamid string) []byte {
	t.Helper()
	var found []byte
	ok := poll.Until(30*time.Second, 200*time.Millisecond, func() bool {
		_, page := api(t, s, http.MethodGet, "/v1/tenants/"+tenant+"/events?type="+bridgeevents.MessageReceived+"&limit=200", "")
		evs, _ := page["events"].([]any)
		for _, e := range evs {
			data, _ := e.(map[string]any)["data"].(map[string]any)
			if m, _ := data["message"].(map[string]any); m["id"] == wamid {
				found, _ = json.Marshal(e)
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("no message.received of %s in the feed", wamid)
	}
	return found
}

// replies lists the texts of the outbound messages of a conversation.
func replies(t *testing.T, s *stack.Stack, tenant, conversation string) []string {
	t.Helper()
	_, list := api(t, s, http.MethodGet, "/v1/tenants/"+tenant+"/conversations/"+conversation+"/messages", "")
	var out []string
	msgs, _ := list["messages"].([]any)
	for _, m := range msgs {
		if m := m.(map[string]any); m["direction"] == "outbound" {
			out = append(out, m["text"].(string))
		}
	}
	return out
}

// The example consumer against the whole local stack: a person writes, the
// publisher tells message.received on the events topic, the webhook sender
// POSTs it, and the example replies once. The same event delivered again,
// straight or through the topic, sends nothing more; a delivery badly
// signed is 401 and sends nothing.
func TestAutoreplyAnswersEachMessageOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dev, _ := stack.Resolve(func(string) string { return "" })
	secret := dev[config.EventsWebhookSecret.Name]
	hook := startAutoreply(t, "http://"+ln.Addr().String(), secret, dev[config.BridgeAPIToken.Name])
	s := launchStackOn(t, ln, map[string]string{config.ReconcileEvery.Name: "1h", config.EventsWebhookURL.Name: hook},
		func(o *stack.Options) { o.EventWebhooksSchedule = []time.Duration{0, time.Second} })
	t.Cleanup(s.Stop)
	number, _ := connect(t, s, "acme")
	person := map[string]any{"from_phone": "+5215512345678", "name": "Ana"}
	sent := s.Sim.SentByProxy()
	expectSent := func(t *testing.T, want int) {
		t.Helper()
		if !poll.Until(30*time.Second, 50*time.Millisecond, func() bool { return s.Sim.SentByProxy()-sent >= want }) {
			t.Fatalf("the simulator took %d sends, want %d", s.Sim.SentByProxy()-sent, want)
		}
		drained(t, s, schema.EventWebhooks.ID, schema.Outbound.ID)
		if got := s.Sim.SentByProxy() - sent; got != want {
			t.Fatalf("the simulator took %d sends, want %d", got, want)
		}
	}
	write := func(text string) (string, string) {
		person["text"] = text
		in := sim(t, s, "/_sim/numbers/"+number+"/messages", person)
		return in.WAMID, in.ConversationID
	}

	wamid, conversation := write("Tem pão?")
	expectSent(t, 1)
	if got := replies(t, s, "acme", conversation); len(got) != 1 || got[0] != "Recebido!" {
		t.Fatalf("replies %q", got)
	}
	event := toldEvent(t, s, "acme", wamid)
	t.Run("the same event delivered again, straight and through the topic, sends nothing more", func(t *testing.T) {
		for range 2 {
			if code := deliverTo(t, hook, secret, event); code != http.StatusNoContent {
				t.Fatalf("delivery answered %d", code)
			}
		}
		client := sns.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")},
			func(o *sns.Options) { o.BaseEndpoint = aws.String(s.SQSEndpoint) })
		if _, err := client.Publish(context.Background(), &sns.PublishInput{TopicArn: aws.String(s.Topics[schema.EventsTopic.ID]),
			Message: aws.String(string(event))}); err != nil {
			t.Fatal(err)
		}
		expectSent(t, 1)
		if got := replies(t, s, "acme", conversation); len(got) != 1 {
			t.Errorf("replies %q", got)
		}
	})
	t.Run("a delivery badly signed is 401 and sends nothing", func(t *testing.T) {
		other, err := bridgeevents.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		if code := deliverTo(t, hook, other, event); code != http.StatusUnauthorized {
			t.Errorf("signed with another secret: %d", code)
		}
		res, err := http.Post(hook, "application/json", bytes.NewReader(event))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("unsigned: %d", res.StatusCode)
		}
		expectSent(t, 1)
	})
	t.Run("the next message gets its own reply", func(t *testing.T) {
		write("E bolo?")
		expectSent(t, 2)
		if got := replies(t, s, "acme", conversation); len(got) != 2 {
			t.Errorf("replies %q", got)
		}
	})
}
