package templates

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

const orderUpdate = `[{"type":"HEADER","format":"TEXT","text":"Order {{1}}","example":{"header_text":["A-1"]}},
 {"type":"BODY","text":"Hi {{1}}, your order {{2}} ships today.","example":{"body_text":[["Ana","A-1"]]}},
 {"type":"FOOTER","text":"Shop"},
 {"type":"BUTTONS","buttons":[{"type":"URL","text":"Track","url":"https://shop.example.com/orders/{{1}}","example":["https://shop.example.com/orders/A-1"]},
   {"type":"QUICK_REPLY","text":"Stop"}]}]`

func read(name, lang, status string) Read {
	return Read{ID: "1" + name, Name: name, Language: lang, Category: Utility, Status: status, Components: json.RawMessage(`[{"type":"BODY","text":"hi"}]`)}
}

func TestMergeRecordsNewTemplatesAndStatusChangesOnly(t *testing.T) {
	first := Merge("t1", "w1", nil, []Read{read("a", "en_US", Approved), read("b", "es", Pending)}, true, t0, SourceReconciler)
	if len(first) != 2 || first[0].Version != 1 || len(first[0].History) != 1 || first[0].History[0].Status != Approved ||
		first[0].TenantID != "t1" || first[0].BusinessAccountID != "w1" || !first[0].UpdatedAt.Equal(t0) {
		t.Fatalf("first reading = %+v", first)
	}
	// The same reading, formatted differently, changes nothing.
	again := []Read{read("a", "en_US", Approved), read("b", "es", Pending)}
	again[0].Components = json.RawMessage(`[ {"type": "BODY", "text": "hi"} ]`)
	if c := Merge("t1", "w1", first, again, true, t0.Add(time.Hour), SourceReconciler); len(c) != 0 {
		t.Fatalf("unchanged reading changed %+v", c)
	}
	// b approved, a's quality drops: two changes, one new status.
	later := []Read{read("a", "en_US", Approved), read("b", "es", Approved)}
	later[0].QualityScore = "RED"
	c := Merge("t1", "w1", first, later, true, t0.Add(2*time.Hour), SourceReconciler)
	if len(c) != 2 {
		t.Fatalf("changes = %+v", c)
	}
	for _, x := range c {
		switch x.Name {
		case "a":
			if x.Version != 2 || len(x.History) != 1 || x.QualityScore != "RED" {
				t.Errorf("quality change = %+v", x)
			}
		case "b":
			if x.Version != 2 || len(x.History) != 2 || x.History[1].Status != Approved || !x.History[1].At.Equal(t0.Add(2*time.Hour)) {
				t.Errorf("status change = %+v", x)
			}
		}
	}
}

func TestMergeMarksMissingTemplatesDeletedOnlyOnAWholeReading(t *testing.T) {
	stored := Merge("t1", "w1", nil, []Read{read("a", "en_US", Approved), read("b", "es", Approved)}, true, t0, SourceReconciler)
	stored = append(stored, Merge("t1", "w2", nil, []Read{read("c", "en_US", Approved)}, true, t0, SourceReconciler)...)
	if c := Merge("t1", "w1", stored, []Read{read("a", "en_US", Approved)}, false, t0, SourceReconciler); len(c) != 0 {
		t.Fatalf("a partial reading deleted %+v", c)
	}
	c := Merge("t1", "w1", stored, []Read{read("a", "en_US", Approved)}, true, t0.Add(time.Hour), SourceAPI)
	if len(c) != 1 || c[0].Name != "b" || c[0].Status != Deleted || c[0].History[1].Source != SourceAPI {
		t.Fatalf("whole reading = %+v (the other WABA's template must stay)", c)
	}
	// Deleted is told once.
	if again := Merge("t1", "w1", append(stored[:1:1], c...), []Read{read("a", "en_US", Approved)}, true, t0.Add(2*time.Hour), SourceAPI); len(again) != 0 {
		t.Fatalf("deleted again: %+v", again)
	}
}

func TestMergeIgnoresDuplicatesAndNamelessEntries(t *testing.T) {
	c := Merge("t1", "w1", nil, []Read{read("a", "en_US", Approved), read("a", "en_US", Paused), read("", "en_US", Approved), read("x", "", Approved)}, true, t0, SourceReconciler)
	if len(c) != 1 || c[0].Status != Approved {
		t.Fatalf("merge = %+v", c)
	}
}

func approved(components string) Template {
	r := read("order_update", "en_US", Approved)
	r.Components = json.RawMessage(components)
	return Template{BusinessAccountID: "w1", Read: r}
}

func TestCheckSendCountsParametersPerComponent(t *testing.T) {
	tpl := approved(orderUpdate)
	good := `[{"type":"header","parameters":[{"type":"text","text":"A-1"}]},
	 {"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"A-1"}]},
	 {"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"A-1"}]}]`
	if r := CheckSend(tpl, json.RawMessage(good)); r != nil {
		t.Fatalf("good send refused: %v", r)
	}
	withPayload := strings.Replace(good, `]}]`, `]},{"type":"button","sub_type":"quick_reply","index":1,"parameters":[{"type":"payload","payload":"stop"}]}]`, 1)
	if r := CheckSend(tpl, json.RawMessage(withPayload)); r != nil {
		t.Fatalf("quick reply payload refused: %v", r)
	}
	for name, c := range map[string]struct{ send, want string }{
		"body short": {`[{"type":"header","parameters":[{}]},{"type":"body","parameters":[{}]},{"type":"button","sub_type":"url","index":"0","parameters":[{}]}]`,
			"the body of order_update (en_US) takes 2 parameters, the send gives 1"},
		"no header": {`[{"type":"body","parameters":[{},{}]},{"type":"button","sub_type":"url","index":"0","parameters":[{}]}]`,
			"the header of order_update (en_US) takes 1 parameter, the send gives 0"},
		"url button missing": {`[{"type":"header","parameters":[{}]},{"type":"body","parameters":[{},{}]}]`,
			"button 0 (URL) of order_update (en_US) takes 1 parameter, the send gives 0"},
		"no such button": {`[{"type":"header","parameters":[{}]},{"type":"body","parameters":[{},{}]},{"type":"button","index":"0","parameters":[{}]},{"type":"button","index":"5","parameters":[{}]}]`,
			"has 2 buttons; a button component names index 5"},
		"none at all": {``, "the header of order_update (en_US) takes 1 parameter, the send gives 0"},
	} {
		r := CheckSend(tpl, json.RawMessage(c.send))
		if r == nil || r.Problem != ProblemParameters || !strings.Contains(r.Message, c.want) {
			t.Errorf("%s: refusal = %v, want %q", name, r, c.want)
		}
	}
	static := approved(`[{"type":"BODY","text":"Hello"}]`)
	if r := CheckSend(static, nil); r != nil {
		t.Errorf("static template refused: %v", r)
	}
	if r := CheckSend(static, json.RawMessage(`[{"type":"header","parameters":[{}]}]`)); r == nil {
		t.Error("a header parameter for a template with no header passed")
	}
	media := approved(`[{"type":"HEADER","format":"IMAGE"},{"type":"BODY","text":"Look"}]`)
	if r := CheckSend(media, json.RawMessage(`[{"type":"body","parameters":[]}]`)); r == nil || !strings.Contains(r.Message, "header") {
		t.Errorf("image header without its image: %v", r)
	}
}

func TestCheckSendRefusesATemplateNotApproved(t *testing.T) {
	for _, status := range []string{Paused, Disabled, Pending, Rejected, Deleted, "SOMETHING_NEW"} {
		tpl := approved(`[{"type":"BODY","text":"Hello"}]`)
		tpl.Status = status
		r := CheckSend(tpl, nil)
		if r == nil || r.Problem != ProblemNotApproved || !strings.Contains(r.Message, status) {
			t.Errorf("%s: refusal = %v", status, r)
		}
	}
}

func TestUnknownSaysWhatIsMissing(t *testing.T) {
	k := Key{"w1", "promo", "pt_BR"}
	if r := Unknown(Catalog{}, k); r != nil {
		t.Errorf("a WABA never read was judged: %v", r)
	}
	cat := Catalog{Synced: []SyncMark{{BusinessAccountID: "w1", At: t0}},
		Templates: []Template{{BusinessAccountID: "w1", Read: read("promo", "es", Approved)}, {BusinessAccountID: "w1", Read: read("promo", "en_US", Approved)},
			{BusinessAccountID: "w2", Read: read("promo", "pt_BR", Approved)}}}
	if r := Unknown(cat, k); r.Problem != ProblemLanguage || !strings.Contains(r.Message, "it has en_US, es") {
		t.Errorf("other languages: %v", r)
	}
	if r := Unknown(cat, Key{"w1", "other", "es"}); r.Problem != ProblemUnknown {
		t.Errorf("unknown: %v", r)
	}
}
