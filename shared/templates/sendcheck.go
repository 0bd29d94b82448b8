package templates

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// What a send of a template may be refused for, before it is queued.
const (
	ProblemUnknown     = "template_unknown"
	ProblemLanguage    = "template_language"
	ProblemNotApproved = "template_not_approved"
	ProblemParameters  = "template_parameters"
)

// Refusal is a template send refused: which rule, and what to tell the
// caller (names and counts only, safe to show).
type Refusal struct {
	Problem, Message string
}

func (r *Refusal) Error() string { return r.Message }

// Unknown is the refusal of a send naming a template the store does not
// hold in that language: the template is in other languages only, or not
// there at all. A WABA whose templates were never read is not judged (nil):
// its first reading comes with the reconciler's next run, or on demand, and
// until then Meta is the judge.
func Unknown(cat Catalog, k Key) *Refusal {
	if cat.SyncedAt(k.BusinessAccountID).IsZero() {
		return nil
	}
	var langs []string
	for _, t := range cat.Templates {
		if t.BusinessAccountID == k.BusinessAccountID && t.Name == k.Name && t.Status != Deleted {
			langs = append(langs, t.Language)
		}
	}
	if len(langs) > 0 {
		slices.Sort(langs)
		return &Refusal{ProblemLanguage, fmt.Sprintf("template.language.code: %s has no %s version; it has %s",
			k.Name, k.Language, strings.Join(langs, ", "))}
	}
	return &Refusal{ProblemUnknown, fmt.Sprintf("template.name: WABA %s has no template %s (templates read %s)",
		k.BusinessAccountID, k.Name, cat.SyncedAt(k.BusinessAccountID).UTC().Format(time.RFC3339))}
}

// sendComponent is one component of a template send.
type sendComponent struct {
	Type       string            `json:"type"`
	SubType    string            `json:"sub_type"`
	Index      json.RawMessage   `json:"index"`
	Parameters []json.RawMessage `json:"parameters"`
}

// CheckSend is why the stored template t cannot be sent with these
// components, or nil: t must be APPROVED, and the send must give its
// header, its body and each of its buttons the number of parameters it
// takes. Components whose shape Meta varies (carousels, offers) are left
// to Meta.
func CheckSend(t Template, sendComponents json.RawMessage) *Refusal {
	if !t.Sendable() {
		return &Refusal{ProblemNotApproved, fmt.Sprintf("template.name: %s (%s) is %s; only an APPROVED template can be sent",
			t.Name, t.Language, t.Status)}
	}
	cs, ok := parseComponents(t.Components)
	if !ok {
		return nil // a stored shape not read here: Meta is the judge
	}
	var given []sendComponent
	if len(sendComponents) > 0 {
		if err := json.Unmarshal(sendComponents, &given); err != nil {
			return &Refusal{ProblemParameters, "template.components: must be an array of components, each with type and parameters"}
		}
	}
	count := func(typ string) (int, bool) {
		n, found := 0, false
		for _, g := range given {
			if strings.EqualFold(g.Type, typ) {
				n += len(g.Parameters)
				found = true
			}
		}
		return n, found
	}
	wrong := func(part string, want, got int) *Refusal {
		return &Refusal{ProblemParameters, fmt.Sprintf("template.components: the %s of %s (%s) takes %d parameter%s, the send gives %d",
			part, t.Name, t.Language, want, plural(want), got)}
	}
	var buttons []button
	for _, c := range cs {
		switch strings.ToUpper(c.Type) {
		case Header:
			if got, _ := count("header"); got != headerParams(c) {
				return wrong("header", headerParams(c), got)
			}
		case Body:
			if got, _ := count("body"); got != len(params(c.text())) {
				return wrong("body", len(params(c.text())), got)
			}
		case Buttons:
			buttons = c.Buttons
		case Footer:
		default:
			return nil // carousel, limited-time offer…: Meta's rules, not counted here
		}
	}
	if !slices.ContainsFunc(cs, func(c component) bool { return strings.EqualFold(c.Type, Header) }) {
		if got, found := count("header"); found {
			return wrong("header", 0, got)
		}
	}
	return checkButtons(t, buttons, given)
}

func checkButtons(t Template, buttons []button, given []sendComponent) *Refusal {
	byIndex := map[int]int{}
	for _, g := range given {
		if !strings.EqualFold(g.Type, "button") {
			continue
		}
		i, ok := index(g.Index)
		if !ok || i < 0 || i >= len(buttons) {
			return &Refusal{ProblemParameters, fmt.Sprintf("template.components: %s (%s) has %d button%s; a button component names index %s",
				t.Name, t.Language, len(buttons), plural(len(buttons)), strings.Trim(string(g.Index), `"`))}
		}
		byIndex[i] += len(g.Parameters)
	}
	for i, b := range buttons {
		needed, allowed := buttonParams(b)
		got := byIndex[i]
		if got < needed || got > allowed {
			want := strconv.Itoa(needed)
			if allowed != needed {
				want = fmt.Sprintf("%d or %d", needed, allowed)
			}
			return &Refusal{ProblemParameters, fmt.Sprintf("template.components: button %d (%s) of %s (%s) takes %s parameter%s, the send gives %d",
				i, strings.ToUpper(b.Type), t.Name, t.Language, want, plural(allowed), got)}
		}
	}
	return nil
}

// index reads a button's index, which Meta takes as a string or a number.
func index(raw json.RawMessage) (int, bool) {
	s := strings.Trim(string(raw), `"`)
	n, err := strconv.Atoi(s)
	return n, err == nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
