package lambdahttp

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestAdapterPassesTheRawBodyPathQueryAndHeaders(t *testing.T) {
	raw := []byte("{\"text\": \"Olá 🌎\"}\r\n\x00\xff")
	var gotBody []byte
	var gotPath, gotQuery, gotSig, gotID string
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/kapso/{id}", func(w http.ResponseWriter, r *http.Request) {
		gotBody, _ = io.ReadAll(r.Body)
		gotPath, gotQuery, gotSig, gotID = r.URL.Path, r.URL.RawQuery, r.Header.Get("X-Webhook-Signature"), r.PathValue("id")
		http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
		w.Header().Add("Vary", "X")
		w.Header().Add("Vary", "Y")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte{0xff, 0xfe})
	})
	e := events.APIGatewayV2HTTPRequest{
		RawPath:         "/webhooks/kapso/123",
		RawQueryString:  "a=1&b=%20",
		Headers:         map[string]string{"x-webhook-signature": "abc"},
		Body:            base64.StdEncoding.EncodeToString(raw),
		IsBase64Encoded: true,
	}
	e.RequestContext.HTTP.Method = http.MethodPost
	res, err := Adapter(mux)(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	if string(gotBody) != string(raw) {
		t.Fatalf("body changed in transit: %q", gotBody)
	}
	if gotPath != "/webhooks/kapso/123" || gotQuery != "a=1&b=%20" || gotSig != "abc" || gotID != "123" {
		t.Fatalf("path %q query %q sig %q id %q", gotPath, gotQuery, gotSig, gotID)
	}
	if res.StatusCode != http.StatusAccepted || res.Headers["Vary"] != "X,Y" || len(res.Cookies) != 1 {
		t.Fatalf("response %+v", res)
	}
	if !res.IsBase64Encoded || res.Body != base64.StdEncoding.EncodeToString([]byte{0xff, 0xfe}) {
		t.Fatalf("binary body not base64: %+v", res)
	}
}

func TestBrokenBase64IsABadRequest(t *testing.T) {
	e := events.APIGatewayV2HTTPRequest{RawPath: "/x", Body: "%%%", IsBase64Encoded: true}
	e.RequestContext.HTTP.Method = http.MethodPost
	res, _ := Adapter(http.NotFoundHandler())(context.Background(), e)
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", res.StatusCode)
	}
}
