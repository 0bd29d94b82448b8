package kapsoapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

const (
	testMessage = `{"messaging_product":"whatsapp","to":"16505551234","type":"text","text":{"body":"hi"}}`
	sentAnswer  = `{"messaging_product":"whatsapp","contacts":[{"input":"16505551234","wa_id":"16505551234"}],"messages":[{"id":"wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI"}]}`
)

// newTestSender serves h (counting requests) and returns a sender for it with fast retries.
func newTestSender(t *testing.T, h http.HandlerFunc) (*MetaProxy, *atomic.Int32, string) {
	t.Helper()
	calls := new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	base := srv.URL + "/meta/whatsapp"
	return NewMetaProxy(base+"/", "v24.0", testKey, WithRetry(3, time.Millisecond, 5*time.Millisecond)), calls, base
}

func TestSendPostsTheMessageUnchanged(t *testing.T) {
	var got struct {
		method, path, key, ctype string
		body                     []byte
	}
	s, calls, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) {
		got.method, got.path = r.Method, r.URL.EscapedPath()
		got.key, got.ctype = r.Header.Get("X-API-Key"), r.Header.Get("Content-Type")
		got.body, _ = io.ReadAll(r.Body)
		reply(w, 200, sentAnswer)
	})
	res, err := s.Send(context.Background(), "1065/40", []byte(testMessage))
	if err != nil {
		t.Fatal(err)
	}
	if res.WAMID != "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI" || res.WAID != "16505551234" || res.Input != "16505551234" {
		t.Errorf("result = %+v", res)
	}
	if got.method != http.MethodPost || got.path != "/meta/whatsapp/v24.0/1065%2F40/messages" {
		t.Errorf("request %s %s", got.method, got.path)
	}
	if got.key != testKey || got.ctype != "application/json" {
		t.Errorf("headers key %q content type %q", got.key, got.ctype)
	}
	if !bytes.Equal(got.body, []byte(testMessage)) {
		t.Errorf("body = %s", got.body)
	}
	if calls.Load() != 1 {
		t.Errorf("calls = %d", calls.Load())
	}
}

func TestNewSenderDefaults(t *testing.T) {
	s := NewMetaProxy("", "", "k")
	if s.c.baseURL != DefaultMetaBaseURL+"/"+DefaultGraphVersion {
		t.Errorf("base = %q", s.c.baseURL)
	}
}

func TestSendRefusesBadArgumentsWithoutACall(t *testing.T) {
	s, calls, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) { reply(w, 200, sentAnswer) })
	for _, tc := range []struct{ id, msg string }{
		{"", testMessage}, {"  ", testMessage}, {"123", ""}, {"123", "not json"}, {"123", `["x"]`}, {"123", `{"to":`},
	} {
		if _, err := s.Send(context.Background(), tc.id, []byte(tc.msg)); err == nil || errors.Is(err, ErrSendUnknown) {
			t.Errorf("Send(%q, %q) err = %v", tc.id, tc.msg, err)
		}
	}
	if calls.Load() != 0 {
		t.Errorf("%d requests made", calls.Load())
	}
}

func TestSendWaitsRetryAfterOn429(t *testing.T) {
	var n atomic.Int32
	s, calls, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			reply(w, 429, `{"error":{"message":"(#130429) Rate limit hit","code":130429}}`)
			return
		}
		reply(w, 200, sentAnswer)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	res, err := s.Send(ctx, "123", []byte(testMessage))
	if err != nil || res.WAMID == "" {
		t.Fatalf("= %+v, %v", res, err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("sent again after %v, before Retry-After", d)
	}
	if calls.Load() != 2 {
		t.Errorf("calls = %d", calls.Load())
	}
}

func TestSend429BeyondDeadlineIsRetryable(t *testing.T) {
	s, calls, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		reply(w, 429, `{"error":"Rate limit exceeded"}`)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := s.Send(ctx, "123", []byte(testMessage))
	var me *MetaError
	if !errors.As(err, &me) || !me.Retryable() || me.Permanent() || me.RetryAfter != time.Minute ||
		!errs.Is(err, errs.RateLimited) || errors.Is(err, ErrSendUnknown) {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() != 1 {
		t.Errorf("calls = %d", calls.Load())
	}
}

func TestSend429GoesThroughTheMeter(t *testing.T) {
	var n atomic.Int32
	s, calls, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			reply(w, 429, `{"error":"Rate limit exceeded"}`)
			return
		}
		reply(w, 200, sentAnswer)
	})
	m := NewMeter(MeterOptions{Budget: 5})
	ctx, cancel := context.WithTimeout(WithMeter(context.Background(), m), 5*time.Second)
	defer cancel()
	if _, err := s.Send(ctx, "123", []byte(testMessage)); err != nil {
		t.Fatal(err)
	}
	if st := m.Stats(); st.Calls != 2 || st.RateLimited != 1 || st.Waits != 1 || st.Waited < 900*time.Millisecond {
		t.Errorf("stats = %+v", st)
	}
	if calls.Load() != 2 {
		t.Errorf("calls = %d", calls.Load())
	}
}

func TestSendServerErrorIsRetryableRefusalAndSentOnce(t *testing.T) {
	s, calls, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) {
		reply(w, 500, `{"error":{"message":"An unknown error occurred","type":"OAuthException","code":1}}`)
	})
	_, err := s.Send(context.Background(), "123", []byte(testMessage))
	var me *MetaError
	if errors.Is(err, ErrSendUnknown) || !errors.As(err, &me) || me.Status != 500 || me.Code != 1 || !me.Retryable() {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() != 1 {
		t.Errorf("calls = %d: Send itself never repeats a 5xx", calls.Load())
	}
}

func TestSendGatewayTimeoutIsUnknownAndSentOnce(t *testing.T) {
	s, calls, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) {
		reply(w, 504, `{"error":"upstream timed out"}`)
	})
	_, err := s.Send(context.Background(), "123", []byte(testMessage))
	var me *MetaError
	if !errors.Is(err, ErrSendUnknown) || !errors.As(err, &me) || me.Status != 504 || me.Retryable() ||
		!errs.Is(err, errs.OutcomeUnknown) {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() != 1 {
		t.Errorf("calls = %d", calls.Load())
	}
}

func TestSendServerErrorWithPermanentCodeIsRefusal(t *testing.T) {
	s, calls, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) {
		reply(w, 502, `{"error":{"message":"Template name does not exist in the translation","code":132001}}`)
	})
	_, err := s.Send(context.Background(), "123", []byte(testMessage))
	var me *MetaError
	if errors.Is(err, ErrSendUnknown) || !errors.As(err, &me) || !me.Permanent() || me.Code != 132001 {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() != 1 {
		t.Errorf("calls = %d", calls.Load())
	}
}

func TestSendTimeoutAfterRequestReadIsUnknown(t *testing.T) {
	read := make(chan struct{}, 1)
	s, calls, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		read <- struct{}{}
		<-r.Context().Done() // accepted the message, never answers
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Send(ctx, "123", []byte(testMessage))
	if !errors.Is(err, ErrSendUnknown) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	select {
	case <-read:
	default:
		t.Error("server never read the request")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("returned after %v", d)
	}
	if calls.Load() != 1 {
		t.Errorf("calls = %d", calls.Load())
	}
}

func TestSendResetAfterWritingIsUnknown(t *testing.T) {
	s, _, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) { reply(w, 200, sentAnswer) })
	reset := &failingTransport{err: io.ErrUnexpectedEOF}
	reset.fails.Store(1)
	s.c.http = &http.Client{Transport: reset}
	_, err := s.Send(context.Background(), "123", []byte(testMessage))
	if !errors.Is(err, ErrSendUnknown) || reset.calls.Load() != 1 {
		t.Fatalf("err %v calls %d", err, reset.calls.Load())
	}
}

func TestSendRetriesConnectionsThatNeverOpened(t *testing.T) {
	s, calls, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) { reply(w, 200, sentAnswer) })
	dial := &failingTransport{err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}
	dial.fails.Store(2)
	s.c.http = &http.Client{Transport: dial}
	res, err := s.Send(context.Background(), "123", []byte(testMessage))
	if err != nil || res.WAMID == "" {
		t.Fatalf("= %+v, %v", res, err)
	}
	if dial.calls.Load() != 3 || calls.Load() != 1 {
		t.Errorf("attempts %d, served %d", dial.calls.Load(), calls.Load())
	}
}

func TestSendRefusedConnectionIsNotSent(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()                  // nothing listens there now: connections are refused
	count := &failingTransport{} // fails none, counts every attempt
	s := NewMetaProxy(url, "v24.0", testKey, WithRetry(3, time.Millisecond, 5*time.Millisecond))
	s.c.http = &http.Client{Transport: count}
	_, err := s.Send(context.Background(), "123", []byte(testMessage))
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrSendUnknown) {
		t.Fatalf("err = %v", err)
	}
	if count.calls.Load() != 3 {
		t.Errorf("attempts = %d, want 3", count.calls.Load())
	}
}

func TestSendMetaRefusals(t *testing.T) {
	cases := map[string]struct {
		status               int
		body                 string
		code                 int
		permanent, retryable bool
	}{
		"undeliverable": {400, `{"error":{"message":"(#131026) Message Undeliverable.","type":"OAuthException","code":131026,"error_subcode":2494010,"error_data":{"messaging_product":"whatsapp","details":"Recipient cannot be reached"},"error_user_title":"Message undeliverable","error_user_msg":"Check the number","fbtrace_id":"AbC123"}}`, 131026, true, false},
		"throughput":    {400, `{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,"fbtrace_id":"x"}}`, 130429, false, true},
		"pair limit":    {400, `{"error":{"message":"(#131056) Pair rate limit hit","code":"131056"}}`, 131056, false, true},
		"window":        {400, `{"error":{"message":"Re-engagement message","code":131047}}`, 131047, true, false},
		"template":      {404, `{"error":{"message":"Template paused","code":132015}}`, 132015, true, false},
		"not allowed":   {400, `{"error":{"message":"(#131030) Recipient phone number not in allowed list","code":131030}}`, 131030, true, false},
		"kapso string":  {422, `{"error":"Phone number not found in project"}`, 0, true, false},
		"not json":      {400, `<html>bad</html>`, 0, true, false},
		"odd types":     {400, `{"error":{"message":"m","code":131026,"error_subcode":{"x":1}}}`, 131026, true, false},
		"redirect":      {302, ``, 0, true, false},
		"unauthorized":  {401, `{"error":"Invalid API key"}`, 0, true, false},
		"in flight":     {409, `{"error":"Another message in-flight for this conversation. Retry shortly."}`, 0, false, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, calls, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.status == 302 {
					w.Header().Set("Location", "/elsewhere")
				}
				reply(w, tc.status, tc.body)
			})
			_, err := s.Send(context.Background(), "123", []byte(testMessage))
			var me *MetaError
			if !errors.As(err, &me) || errors.Is(err, ErrSendUnknown) {
				t.Fatalf("err = %v", err)
			}
			if me.Status != tc.status || me.Code != tc.code || me.Permanent() != tc.permanent || me.Retryable() != tc.retryable {
				t.Errorf("%+v: permanent %v retryable %v", me, me.Permanent(), me.Retryable())
			}
			if me.Message == "" {
				t.Error("no message")
			}
			// What the sender branches on: refused for good, or for now.
			want := errs.Unavailable
			if tc.permanent {
				want = errs.Unprocessable
			}
			var refusal *messaging.SendRefusal
			if !errs.Is(err, want) || !errors.As(err, &refusal) || refusal.Reason.Code != tc.code {
				t.Errorf("%v: code %s, refusal %+v", err, errs.CodeOf(err), refusal)
			}
			if calls.Load() != 1 {
				t.Errorf("calls = %d", calls.Load())
			}
		})
	}
}

func TestSendMetaErrorFields(t *testing.T) {
	s, _, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) {
		reply(w, 400, `{"error":{"message":"(#131026) Message Undeliverable.","type":"OAuthException","code":131026,"error_subcode":2494010,"error_data":{"messaging_product":"whatsapp","details":"Recipient cannot be reached"},"error_user_title":"Message undeliverable","error_user_msg":"Check the number","fbtrace_id":"AbC123"}}`)
	})
	_, err := s.Send(context.Background(), "123", []byte(testMessage))
	var me *MetaError
	if !errors.As(err, &me) {
		t.Fatalf("err = %v", err)
	}
	want := MetaError{Status: 400, Code: 131026, Subcode: 2494010, Type: "OAuthException", Title: "Message undeliverable",
		Message: "(#131026) Message Undeliverable.", UserMessage: "Check the number", Details: "Recipient cannot be reached", FBTraceID: "AbC123"}
	got := *me
	got.api = nil
	if got != want {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if !strings.Contains(err.Error(), "131026") || !strings.Contains(err.Error(), "Message undeliverable") {
		t.Errorf("Error() = %q", err.Error())
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 400 {
		t.Errorf("does not unwrap to the APIError: %v", err)
	}
	var refusal *messaging.SendRefusal
	if !errors.As(err, &refusal) || refusal.Reason != (messaging.StatusError{Code: 131026, Title: "Message undeliverable",
		Message: "(#131026) Message Undeliverable.", Details: "Recipient cannot be reached"}) || !errs.Is(err, errs.Unprocessable) {
		t.Errorf("refusal %+v, code %s", refusal, errs.CodeOf(err))
	}
}

func TestSendAnswersThatLookWrongAreUnknown(t *testing.T) {
	for name, body := range map[string]string{
		"no messages":   `{"messaging_product":"whatsapp","contacts":[{"input":"1","wa_id":"1"}]}`,
		"empty id":      `{"messages":[{"id":""}]}`,
		"empty list":    `{"messages":[]}`,
		"id with space": `{"messages":[{"id":"wamid. x"}]}`,
		"not json":      `<html>ok</html>`,
		"empty":         ``,
		"oversized":     `{"messages":[{"id":"wamid.x"}],"pad":"` + strings.Repeat("x", maxResponseBytes) + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			s, calls, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) { reply(w, 200, body) })
			res, err := s.Send(context.Background(), "123", []byte(testMessage))
			if !errors.Is(err, ErrSendUnknown) || !errs.Is(err, errs.OutcomeUnknown) {
				t.Fatalf("= %+v, %v", res, err)
			}
			if name == "oversized" && !errors.Is(err, errTooLarge) {
				t.Errorf("err = %v", err)
			}
			if calls.Load() != 1 {
				t.Errorf("calls = %d", calls.Load())
			}
		})
	}
}

func TestSendNumericIDsAndBSUID(t *testing.T) {
	s, _, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) {
		reply(w, 201, `{"contacts":[{"input":16505551234,"wa_id":16505551234,"user_id":"US.1349"}],"messages":[{"id":"wamid.A","message_status":"accepted"}]}`)
	})
	res, err := s.Send(context.Background(), "123", []byte(testMessage))
	want := messaging.SendResult{WAMID: "wamid.A", MessageStatus: "accepted", WAID: "16505551234", UserID: "US.1349", Input: "16505551234"}
	if err != nil || res != want {
		t.Fatalf("= %+v, %v", res, err)
	}
}

func TestSendContextEndedBeforeSendingIsNotSent(t *testing.T) {
	s, calls, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) { reply(w, 200, sentAnswer) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Send(ctx, "123", []byte(testMessage))
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrSendUnknown) || !errs.Is(err, errs.Unavailable) || calls.Load() != 0 {
		t.Fatalf("err %v calls %d", err, calls.Load())
	}
}

func TestMetaErrorClasses(t *testing.T) {
	for _, tc := range []struct {
		status, code         int
		permanent, retryable bool
	}{
		{400, 100, true, false}, {400, 131008, true, false}, {400, 131009, true, false},
		{400, 131045, true, false}, {400, 131051, true, false}, {400, 132000, true, false},
		{400, 132005, true, false}, {400, 132007, true, false}, {400, 132012, true, false},
		{400, 133010, true, false}, {400, 368, true, false}, {403, 131031, true, false},
		{500, 131026, true, false}, {400, 132016, true, false}, {500, 132016, false, true},
		{400, 131016, false, true}, {503, 131016, false, true}, {400, 131048, false, true},
		{400, 80007, false, true}, {400, 1, false, true}, {500, 2, false, true},
		{429, 0, false, true}, {429, 131047, true, false}, {500, 0, false, true},
		{504, 0, false, false}, {502, 0, false, true}, {409, 0, false, true}, {409, 132015, true, false},
	} {
		e := &MetaError{Status: tc.status, Code: tc.code}
		if e.Permanent() != tc.permanent || e.Retryable() != tc.retryable {
			t.Errorf("%d/%d: permanent %v retryable %v", tc.status, tc.code, e.Permanent(), e.Retryable())
		}
	}
	var nilErr *MetaError
	if nilErr.Permanent() || nilErr.Retryable() {
		t.Error("nil error classified")
	}
}
