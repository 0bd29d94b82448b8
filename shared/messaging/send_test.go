package messaging

import (
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/strictjson"
)

// decodeSend reads a send body as the tenant API's reader does (strictly,
// with the text rule) and fails the test on a body it refuses: what is left
// to check is the request's own rules.
func decodeSend(t *testing.T, body string) OutboundRequest {
	t.Helper()
	var r OutboundRequest
	if err := strictjson.Decode([]byte(body), &r, strictjson.Options{Text: OutboundTextProblem}); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return r
}

func TestOutboundFreeForm(t *testing.T) {
	for _, typ := range outTypes {
		r := OutboundRequest{Type: typ}
		if got, want := r.FreeForm(), typ != OutTypeTemplate; got != want {
			t.Errorf("FreeForm() for %s = %v, want %v", typ, got, want)
		}
	}
}
