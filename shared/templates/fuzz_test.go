package templates

import (
	"encoding/json"
	"testing"
)

// FuzzTemplateReader reads templates as Kapso may give them and drafts as
// a caller may send them: nothing panics, and a draft the rules accept,
// once approved, takes a send that gives each component the parameters it
// has, and refuses one that gives the body one more.
func FuzzTemplateReader(f *testing.F) {
	f.Add(orderUpdate, "", Utility)
	f.Add(`[{"type":"BODY","text":"Thank you, {{customer_name}}!","example":{"body_text_named_params":[{"param_name":"customer_name","example":"P"}]}}]`, Named, Utility)
	f.Add(`[{"type":"HEADER","format":"IMAGE","example":{"header_handle":["h"]}},{"type":"BODY","text":"x"}]`, "", Marketing)
	f.Add(`[{"type":"BODY","add_security_recommendation":true},{"type":"BUTTONS","buttons":[{"type":"OTP","otp_type":"COPY_CODE"}]}]`, "", Authentication)
	f.Add(`[{"type":"BODY","text":"{{1}"},{"type":"BUTTONS","buttons":[{"type":"URL","url":{}}]}]`, "", Utility)
	f.Add(`{"type":"BODY"}`, "", Utility)
	f.Fuzz(func(t *testing.T, components, format, category string) {
		d := Draft{Name: "t", Language: "en_US", Category: category, ParameterFormat: format, Components: json.RawMessage(components)}
		ferr := d.Check()
		stored := Template{BusinessAccountID: "w", Read: Read{Name: "t", Language: "en_US", Status: Approved, Components: json.RawMessage(components)}}
		_ = CheckSend(stored, json.RawMessage(components)) // Kapso's components as a send: never panics
		_ = Merge("t1", "w", nil, []Read{stored.Read}, true, t0, SourceReconciler)
		if ferr != nil || category == Authentication {
			return
		}
		send := fullSend(t, components, 0)
		if r := CheckSend(stored, send); r != nil {
			t.Fatalf("accepted draft %s refuses its own full send %s: %v", components, send, r)
		}
		if extra := fullSend(t, components, 1); CheckSend(stored, extra) == nil {
			t.Fatalf("draft %s: a body parameter too many passed: %s", components, extra)
		}
	})
}

// fullSend is a send giving each of the components the parameters it
// takes (its body extra more), and a body component always.
func fullSend(t *testing.T, components string, extra int) json.RawMessage {
	cs, ok := parseComponents(json.RawMessage(components))
	if !ok {
		t.Fatalf("accepted components do not decode: %s", components)
	}
	p := func(n int) []map[string]string {
		out := make([]map[string]string, n)
		for i := range out {
			out[i] = map[string]string{"type": "text", "text": "v"}
		}
		return out
	}
	send := []map[string]any{}
	body := map[string]any{"type": "body", "parameters": p(extra)}
	for _, c := range cs {
		switch c.Type {
		case Header:
			send = append(send, map[string]any{"type": "header", "parameters": p(headerParams(c))})
		case Body:
			body["parameters"] = p(len(params(c.text())) + extra)
		case Buttons:
			for i, b := range c.Buttons {
				if needed, _ := buttonParams(b); needed > 0 {
					send = append(send, map[string]any{"type": "button", "index": i, "parameters": p(needed)})
				}
			}
		}
	}
	send = append(send, body)
	b, err := json.Marshal(send)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
