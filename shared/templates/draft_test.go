package templates

import (
	"encoding/json"
	"strings"
	"testing"
)

func draft(category, format, components string) Draft {
	return Draft{Name: "order_update", Language: "en_US", Category: category, ParameterFormat: format, Components: json.RawMessage(components)}
}

func TestDraftsMetaAccepts(t *testing.T) {
	for name, d := range map[string]Draft{
		"positional with header and buttons": draft(Utility, "", orderUpdate),
		"named": draft(Utility, Named, `[{"type":"BODY","text":"Thank you, {{customer_name}}! Your order number is {{order_number}}.",
			"example":{"body_text_named_params":[{"param_name":"customer_name","example":"Pablo"},{"param_name":"order_number","example":"860198"}]}}]`),
		"image header": draft(Marketing, "", `[{"type":"HEADER","format":"IMAGE","example":{"header_handle":["4::aW1h"]}},{"type":"BODY","text":"New in"}]`),
		"authentication": draft(Authentication, "", `[{"type":"BODY","add_security_recommendation":true},{"type":"FOOTER","code_expiration_minutes":10},
			{"type":"BUTTONS","buttons":[{"type":"OTP","otp_type":"COPY_CODE"}]}]`),
	} {
		if ferr := d.Check(); ferr != nil {
			t.Errorf("%s: %v", name, ferr)
		}
	}
}

func TestDraftsBreakingMetasRulesAreRefusedByField(t *testing.T) {
	body := func(text, example string) string {
		return `[{"type":"BODY","text":` + jsonString(text) + example + `}]`
	}
	for _, c := range []struct {
		d     Draft
		field string
	}{
		{Draft{Language: "en_US", Category: Utility, Components: json.RawMessage(body("hi", ""))}, "name"},
		{Draft{Name: "Order Update", Language: "en_US", Category: Utility, Components: json.RawMessage(body("hi", ""))}, "name"},
		{Draft{Name: "a", Language: "english", Category: Utility, Components: json.RawMessage(body("hi", ""))}, "language"},
		{Draft{Name: "a", Language: "en", Category: "PROMOTION", Components: json.RawMessage(body("hi", ""))}, "category"},
		{draft(Utility, "", `{}`), "components"},
		{draft(Utility, "", `[]`), "components"},
		{draft(Utility, "", `[{"type":"FOOTER","text":"x"}]`), "components"},
		{draft(Utility, "", `[{"type":"BODY","text":"a"},{"type":"BODY","text":"b"}]`), "components[1].type"},
		{draft(Utility, "", `[{"type":"CAROUSEL"}]`), "components[0].type"},
		{draft(Utility, "", body(strings.Repeat("x", MaxBodyChars+1), "")), "components[0].text"},
		{draft(Utility, "", body("Hi {{1}} and {{3}} today", `,"example":{"body_text":[["a","b"]]}`)), "components[0].text"},
		{draft(Utility, "", body("Hi {{1}} and {{name}} today", `,"example":{"body_text":[["a","b"]]}`)), "components[0].text"},
		{draft(Utility, "", body("Hi {{name}} today", `,"example":{"body_text":[["a"]]}`)), "components[0].text"},
		{draft(Utility, "", body("{{1}} is here", `,"example":{"body_text":[["a"]]}`)), "components[0].text"},
		{draft(Utility, "", body("Hi {{1}} today", "")), "components[0].example"},
		{draft(Utility, "", body("Hi {{1}} and {{2}} today", `,"example":{"body_text":[["a"]]}`)), "components[0].example.body_text"},
		{draft(Utility, Named, body("Hi {{name}} today", `,"example":{"body_text_named_params":[{"param_name":"other","example":"x"}]}`)), "components[0].example.body_text_named_params"},
		{draft(Utility, "", `[{"type":"HEADER","format":"TEXT","text":"{{1}} {{2}}"},{"type":"BODY","text":"b"}]`), "components[0].text"},
		{draft(Utility, "", `[{"type":"HEADER","format":"IMAGE"},{"type":"BODY","text":"b"}]`), "components[0].example.header_handle"},
		{draft(Utility, "", `[{"type":"HEADER","format":"GIF"},{"type":"BODY","text":"b"}]`), "components[0].format"},
		{draft(Utility, "", `[{"type":"BODY","text":"b"},{"type":"FOOTER","text":"Hi {{1}}"}]`), "components[1].text"},
		{draft(Utility, "", `[{"type":"BODY","text":"b"},{"type":"BUTTONS","buttons":[]}]`), "components[1].buttons"},
		{draft(Utility, "", `[{"type":"BODY","text":"b"},{"type":"BUTTONS","buttons":[{"type":"URL","text":"Go","url":"ftp://x/{{1}}","example":["a"]}]}]`), "components[1].buttons[0].url"},
		{draft(Utility, "", `[{"type":"BODY","text":"b"},{"type":"BUTTONS","buttons":[{"type":"URL","text":"Go","url":"https://x/{{1}}"}]}]`), "components[1].buttons[0].example"},
		{draft(Utility, "", `[{"type":"BODY","text":"b"},{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"`+strings.Repeat("y", 26)+`"}]}]`), "components[1].buttons[0].text"},
		{draft(Utility, "", `[{"type":"BODY","text":"b"},{"type":"BUTTONS","buttons":[{"type":"PHONE_NUMBER","text":"a","phone_number":"1"},{"type":"PHONE_NUMBER","text":"b","phone_number":"2"}]}]`), "components[1].buttons"},
		{draft(Utility, "", `[{"type":"BODY","text":"b"},{"type":"BUTTONS","buttons":[{"type":"COPY_CODE","example":"`+strings.Repeat("c", 16)+`"}]}]`), "components[1].buttons[0].example"},
		{draft(Authentication, "", `[{"type":"BODY","text":"Your code {{1}} here"},{"type":"BUTTONS","buttons":[{"type":"OTP","otp_type":"COPY_CODE"}]}]`), "components[0].text"},
		{draft(Authentication, "", `[{"type":"BODY"}]`), "components"},
		{draft(Authentication, "", `[{"type":"BODY"},{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"x"}]}]`), "components[1].buttons[0].type"},
	} {
		ferr := c.d.Check()
		if ferr == nil || ferr.Field != c.field {
			t.Errorf("%s %s: got %v, want a refusal of %s", c.d.Name, c.d.Components, ferr, c.field)
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
