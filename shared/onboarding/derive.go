package onboarding

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Derive computes a tenant's connection from the facts seen. Only the
// tenant's identity (ID, KapsoCustomerID, Name, CreatedAt) is taken from
// tenant; everything else is recomputed. Facts are deduplicated by Key and
// sorted by (time, kind, key) first, so neither their order nor repetitions
// can change the result. Invalid facts are left out.
func Derive(tenant Tenant, facts []Fact) Connection {
	known := canonicalFacts(facts)
	d := newDerivation(known)
	numbers := d.phoneNumbers()
	attempts := d.attempts()

	out := Connection{
		Tenant: Tenant{
			ID:              tenant.ID,
			KapsoCustomerID: tenant.KapsoCustomerID,
			Name:            tenant.Name,
			CreatedAt:       tenant.CreatedAt,
			UpdatedAt:       tenant.CreatedAt,
			Version:         len(known),
		},
		Attempts:     attempts,
		PhoneNumbers: numbers,
	}
	out.Tenant.Status, out.Tenant.ActiveSetupLinkID = tenantStatus(attempts, numbers)
	if slices.ContainsFunc(known, func(f keyedFact) bool { return f.Kind == FactOffboardRequested }) {
		// Deleting wins over everything, whatever comes after it.
		out.Tenant.Status, out.Tenant.ActiveSetupLinkID = TenantDeleting, ""
	}
	// The creation of a link that superseded another says so on the timeline.
	supersedes := map[string]string{}
	for _, a := range attempts {
		for _, e := range a.History {
			if e.Event == AttemptEventSuperseded {
				supersedes[e.SupersededBy] = a.SetupLinkID
			}
		}
	}
	for _, f := range known {
		out.Facts = append(out.Facts, f.Fact)
		entry := f.timelineEntry()
		if old := supersedes[f.SetupLinkID]; old != "" && f.Kind == FactLinkCreated && entry.Detail != nil {
			entry.Detail["supersedes"] = old
		}
		out.Timeline = append(out.Timeline, entry)
		if f.At.After(out.Tenant.UpdatedAt) {
			out.Tenant.UpdatedAt = f.At
		}
	}
	return out
}

// Change says what applying one fact did, for the timeline and the logs.
type Change struct {
	Fact Fact
	// Duplicate: the fact was already known; nothing changed.
	Duplicate bool
	// Rejected: the fact was invalid and was not applied (wraps ErrInvalidFact).
	Rejected         error
	Entry            TimelineEntry
	TenantStatusFrom TenantStatus
	TenantStatusTo   TenantStatus
	Attempts         []Transition[AttemptStatus]     // by setup link id
	PhoneNumbers     []Transition[PhoneNumberStatus] // by phone_number_id
}

// Transition is an attempt or number whose status changed; From is empty
// for one that did not exist before.
type Transition[S ~string] struct {
	ID       string
	From, To S
}

// Applied reports whether the fact was new and valid, so it must be stored.
func (c Change) Applied() bool { return !c.Duplicate && c.Rejected == nil }

// ClosedLinks are the setup links the fact closed: attempts that were active
// and are no longer (an outcome came back, or the link expired, was revoked
// or superseded). Stores take them out of their active links, so the
// reconciler never expires a link that is already settled.
func (c Change) ClosedLinks() []Transition[AttemptStatus] {
	var out []Transition[AttemptStatus]
	for _, tr := range c.Attempts {
		if tr.From == AttemptActive && tr.To != AttemptActive {
			out = append(out, tr)
		}
	}
	return out
}

// Apply adds a fact to a connection and re-derives it. A fact already known
// (same Key) or invalid leaves the connection as it was.
func Apply(state Connection, f Fact) (Connection, Change) {
	f = f.normalized()
	change := Change{Fact: f, TenantStatusFrom: state.Tenant.Status, TenantStatusTo: state.Tenant.Status}
	if err := f.Validate(); err != nil {
		change.Rejected = fmt.Errorf("apply to tenant %q: %w", state.Tenant.ID, err)
		return state, change
	}
	change.Entry = keyedFact{Fact: f}.timelineEntry()
	key := f.Key()
	for _, seen := range state.Facts {
		if seen.Key() == key {
			change.Duplicate = true
			return state, change
		}
	}
	next := Derive(state.Tenant, append(slices.Clone(state.Facts), f))
	if i := slices.IndexFunc(next.Facts, func(g Fact) bool { return g.Key() == key }); i >= 0 {
		change.Entry = next.Timeline[i]
	}
	change.TenantStatusTo = next.Tenant.Status
	change.Attempts = transitions(state.Attempts, next.Attempts, attemptStatus)
	change.PhoneNumbers = transitions(state.PhoneNumbers, next.PhoneNumbers, numberStatus)
	return next, change
}

// transitions lists the items of after whose status differs from before.
func transitions[T any, S ~string](before, after []T, idStatus func(T) (string, S)) []Transition[S] {
	was := make(map[string]S, len(before))
	for _, item := range before {
		id, status := idStatus(item)
		was[id] = status
	}
	var out []Transition[S]
	for _, item := range after {
		if id, status := idStatus(item); was[id] != status {
			out = append(out, Transition[S]{ID: id, From: was[id], To: status})
		}
	}
	return out
}

func attemptStatus(a Attempt) (string, AttemptStatus)        { return a.SetupLinkID, a.Status }
func numberStatus(n PhoneNumber) (string, PhoneNumberStatus) { return n.PhoneNumberID, n.Status }

// keyedFact is a normalized, valid fact with its key and rank computed once.
type keyedFact struct {
	Fact
	key  string
	rank int
}

func canonicalFacts(facts []Fact) []keyedFact {
	seen := make(map[string]bool, len(facts))
	out := make([]keyedFact, 0, len(facts))
	for _, f := range facts {
		f = f.normalized()
		if f.Validate() != nil {
			continue
		}
		key := f.Key()
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, keyedFact{Fact: f, key: key, rank: kindRank(f.Kind)})
	}
	slices.SortFunc(out, func(a, b keyedFact) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		if c := cmp.Compare(a.rank, b.rank); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	return out
}

func (f keyedFact) timelineEntry() TimelineEntry {
	var detail map[string]string
	for _, field := range f.namedFields() {
		if field.value == "" || field.name == "kind" || field.name == "at" || field.name == "source" {
			continue
		}
		if detail == nil {
			detail = map[string]string{}
		}
		detail[field.name] = field.value
	}
	return TimelineEntry{At: f.At, Kind: f.Kind, Source: f.source(), Detail: detail}
}

// derivation holds what several derivation steps need to know about the
// whole fact set: when each link closed, which link each signed
// confirmation named, and every redirect with its suspicion already decided.
type derivation struct {
	facts []keyedFact
	// closings: setup link id → the earliest way it stopped being usable.
	closings map[string]closing
	// linksNamed: phone number id → links that signed confirmations named for it.
	linksNamed map[string][]string
	// numbersNamed: setup link id → numbers that signed confirmations named for it.
	numbersNamed map[string][]string
	// flagged: "link\x00number" → why the caller rejected that redirect.
	flagged map[string]string
	// redirects: setup link id → its redirects in time order.
	redirects map[string][]RedirectSeen
	// setupFailures: setup link id → the failures Kapso's setup link
	// reported, in time order.
	setupFailures map[string][]AttemptEvent
	// redirectLinks: phone number id → links whose trusted success redirect named it.
	redirectLinks map[string][]string
	// namedInTime: "link\x00number" pairs a success redirect named while the
	// link could still be used.
	namedInTime map[string]bool
}

func newDerivation(facts []keyedFact) *derivation {
	d := &derivation{
		facts:         facts,
		closings:      linkClosings(facts),
		linksNamed:    map[string][]string{},
		numbersNamed:  map[string][]string{},
		flagged:       map[string]string{},
		redirects:     map[string][]RedirectSeen{},
		setupFailures: map[string][]AttemptEvent{},
		redirectLinks: map[string][]string{},
		namedInTime:   map[string]bool{},
	}
	for _, f := range facts {
		if c, closed := d.closings[f.SetupLinkID]; f.Kind == FactSuccessRedirect && (!closed || f.At.Before(c.at)) {
			d.namedInTime[f.SetupLinkID+"\x00"+f.PhoneNumberID] = true
		}
	}
	for _, f := range facts {
		switch {
		case isConfirmation(f.Kind) && d.linkOf(f) != "":
			d.linksNamed[f.PhoneNumberID] = appendUnique(d.linksNamed[f.PhoneNumberID], f.SetupLinkID)
			d.numbersNamed[f.SetupLinkID] = appendUnique(d.numbersNamed[f.SetupLinkID], f.PhoneNumberID)
		case f.Kind == FactSuspiciousRedirect:
			pair := f.SetupLinkID + "\x00" + f.PhoneNumberID
			if _, ok := d.flagged[pair]; !ok {
				d.flagged[pair] = cmp.Or(f.Reason, "rejected when the redirect was received")
			}
		case f.Kind == FactSetupFailed:
			d.setupFailures[f.SetupLinkID] = append(d.setupFailures[f.SetupLinkID], AttemptEvent{At: f.At,
				Event: AttemptEventSetupFailed, ErrorCode: f.ErrorCode, ReportedBy: ReportedByKapso})
		}
	}
	for _, f := range facts {
		if f.Kind != FactSuccessRedirect && f.Kind != FactSuspiciousRedirect && f.Kind != FactFailureRedirect {
			continue
		}
		r := d.redirectSeen(f)
		if c, ok := d.closings[f.SetupLinkID]; ok && !f.At.Before(c.at) {
			r.Late = true
		}
		d.redirects[f.SetupLinkID] = append(d.redirects[f.SetupLinkID], r)
		// A redirect through a link already closed cannot tell which link a
		// number came through: Kapso no longer accepts that link.
		if r.Kind == RedirectSuccess && !r.Suspicious && !r.Late && r.PhoneNumberID != "" {
			d.redirectLinks[r.PhoneNumberID] = appendUnique(d.redirectLinks[r.PhoneNumberID], f.SetupLinkID)
		}
	}
	return d
}

// linkClosings finds, for each link, the earliest time it stopped being
// usable: its expiry or revocation, or the creation of the next link (links
// in creation order; a link never seen created counts as the oldest).
func linkClosings(facts []keyedFact) map[string]closing {
	created := map[string]time.Time{}
	var links []string
	out := map[string]closing{}
	for _, f := range facts {
		if f.SetupLinkID == "" {
			continue
		}
		links = appendUnique(links, f.SetupLinkID)
		switch f.Kind {
		case FactLinkCreated:
			if _, ok := created[f.SetupLinkID]; !ok {
				created[f.SetupLinkID] = f.At
			}
		case FactLinkExpired:
			out[f.SetupLinkID] = out[f.SetupLinkID].earliest(closing{AttemptExpired, f.At, ""})
		case FactLinkRevoked:
			out[f.SetupLinkID] = out[f.SetupLinkID].earliest(closing{AttemptRevoked, f.At, ""})
		}
	}
	slices.SortFunc(links, func(a, b string) int {
		if c := created[a].Compare(created[b]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for i, link := range links {
		for _, newer := range links[i+1:] {
			if at, ok := created[newer]; ok {
				out[link] = out[link].earliest(closing{AttemptSuperseded, at, newer})
				break
			}
		}
	}
	return out
}

func (d *derivation) redirectSeen(f keyedFact) RedirectSeen {
	if f.Kind == FactFailureRedirect {
		return RedirectSeen{Kind: RedirectFailure, At: f.At, ErrorCode: f.ErrorCode}
	}
	r := RedirectSeen{Kind: RedirectSuccess, At: f.At, PhoneNumberID: f.PhoneNumberID,
		BusinessAccountID: f.BusinessAccountID, DisplayPhoneNumber: f.DisplayPhoneNumber}
	r.SuspiciousReason = d.suspicion(f.SetupLinkID, f.PhoneNumberID)
	r.Suspicious = r.SuspiciousReason != ""
	return r
}

// suspicion says why a success redirect naming this link and number cannot
// be trusted, or "" when nothing signed contradicts it.
func (d *derivation) suspicion(link, number string) string {
	if reason, ok := d.flagged[link+"\x00"+number]; ok {
		return reason
	}
	if named := d.numbersNamed[link]; len(named) > 0 && !slices.Contains(named, number) {
		return fmt.Sprintf("link %s was confirmed for number %s", link, strings.Join(named, ","))
	}
	if links := d.linksNamed[number]; len(links) > 0 && !slices.Contains(links, link) {
		return fmt.Sprintf("number %s was confirmed through link %s", number, strings.Join(links, ","))
	}
	return ""
}

// numberLinks is the links a number was connected through: those a signed
// confirmation named, else those whose trusted success redirect named it
// (the redirect alone proves nothing, but once a signed fact proves the number
// is the tenant's, the redirect tells which attempt produced it).
func (d *derivation) numberLinks(number string) []string {
	if links := d.linksNamed[number]; len(links) > 0 {
		return links
	}
	return d.redirectLinks[number]
}

// confirms reports whether f is a confirmation attributable to link.
func (d *derivation) confirms(f keyedFact, link string) bool {
	if !isConfirmation(f.Kind) {
		return false
	}
	if named := d.linkOf(f); named != "" {
		return named == link
	}
	return slices.Contains(d.numberLinks(f.PhoneNumberID), link)
}

// linkOf is the link a confirmation names, if it can be believed. A webhook
// is signed. An API confirmation takes its link from a redirect or from the
// link open at the time, so it is believed unless it names a link that had
// closed by then and that no redirect named the number through in time: a
// redirect typed or replayed after its link closed cannot move that attempt.
func (d *derivation) linkOf(f keyedFact) string {
	if f.Kind != FactAPIConfirmed || f.SetupLinkID == "" {
		return f.SetupLinkID
	}
	if c, closed := d.closings[f.SetupLinkID]; closed && !f.At.Before(c.at) &&
		!d.namedInTime[f.SetupLinkID+"\x00"+f.PhoneNumberID] {
		return ""
	}
	return f.SetupLinkID
}

func (d *derivation) phoneNumbers() []PhoneNumber {
	byID := map[string]*PhoneNumber{}
	var ids []string
	// Details come only from signed facts, never from redirects; the latest
	// fact that carries a field wins.
	for _, f := range d.facts {
		if !isConfirmation(f.Kind) && !isNumberLifecycle(f.Kind) && f.Kind != FactWebhookRegistered &&
			f.Kind != FactHealthRead {
			continue
		}
		n, ok := byID[f.PhoneNumberID]
		if f.Kind == FactHealthRead {
			// A reading is about a number already known; it never makes one.
			if ok {
				readHealth(n, f.Fact)
			}
			continue
		}
		if !ok {
			n = &PhoneNumber{PhoneNumberID: f.PhoneNumberID, Status: NumberStatusUnconfirmed}
			byID[f.PhoneNumberID] = n
			ids = append(ids, f.PhoneNumberID)
		}
		overwrite(&n.BusinessAccountID, f.BusinessAccountID)
		overwrite(&n.DisplayPhoneNumber, f.DisplayPhoneNumber)
		overwrite(&n.ConnectionType, f.ConnectionType)
		if f.NameStatus != "" && f.NameStatus != n.NameStatus {
			n.NameStatus, n.NameStatusSince = f.NameStatus, f.At
		}
		if f.ReviewStatus != "" && f.ReviewStatus != n.ReviewStatus {
			n.ReviewStatus, n.ReviewStatusSince = f.ReviewStatus, f.At
		}
		overwrite(&n.QualityRating, f.QualityRating)
		overwrite(&n.WebhookID, f.WebhookID)
		n.UpdatedAt = f.At
		if f.Kind == FactWebhookRegistered {
			n.WebhookRegistered = true
		}
		if isConfirmation(f.Kind) {
			n.ConfirmedBy = appendUnique(n.ConfirmedBy, kindSource(f.Kind))
		}
	}
	slices.Sort(ids)
	out := make([]PhoneNumber, 0, len(ids))
	for _, id := range ids {
		n := byID[id]
		d.foldNumberStatus(n)
		slices.Sort(n.ConfirmedBy)
		if links := d.numberLinks(id); len(links) > 0 {
			n.SetupLinkID = links[0]
		}
		out = append(out, *n)
	}
	return out
}

// foldNumberStatus replays, in canonical order, every fact that moves the
// number's status, including account events that reach it through its WABA.
func (d *derivation) foldNumberStatus(n *PhoneNumber) {
	base, baseReason := NumberStatusUnconfirmed, ""
	accountDisabled, disabledReason := false, ""
	effective := func() PhoneNumberStatus {
		if base == NumberStatusConnected && accountDisabled {
			return NumberStatusAccountDisabled
		}
		return base
	}
	for _, f := range d.facts {
		if !d.concernsNumber(f, n) {
			continue
		}
		before := effective()
		switch f.Kind {
		case FactPhoneNumberCreated, FactConfigCreated, FactAPIConfirmed, FactNumberReconnected:
			base, baseReason = NumberStatusConnected, f.Reason
		case FactNumberDisconnected:
			base, baseReason = NumberStatusDisconnected, f.Reason
		case FactNumberDeleted:
			base, baseReason = NumberStatusDeleted, f.Reason
		case FactNumberOffboarded:
			base, baseReason = NumberStatusOffboarded, f.Reason
		case FactAccountRestricted:
			n.Restricted, n.RestrictedReason, n.RestrictedAt = true, f.Reason, f.At
		case FactAccountDisabled:
			accountDisabled, disabledReason = true, f.Reason
		case FactAccountReinstated:
			accountDisabled, disabledReason = false, ""
			n.Restricted, n.RestrictedReason, n.RestrictedAt = false, "", time.Time{}
		}
		if f.At.After(n.UpdatedAt) {
			n.UpdatedAt = f.At
		}
		if after := effective(); after != before {
			n.StatusSince = f.At
			// A disablement's reason holds even when it shows only once the
			// number is connected again.
			n.StatusReason = baseReason
			if after == NumberStatusAccountDisabled {
				n.StatusReason = disabledReason
			}
			if after == NumberStatusConnected && n.ConnectedAt.IsZero() {
				n.ConnectedAt = f.At
			}
		}
	}
	n.Status = effective()
}

func (d *derivation) concernsNumber(f keyedFact, n *PhoneNumber) bool {
	switch {
	case isConfirmation(f.Kind) || isNumberLifecycle(f.Kind):
		return f.PhoneNumberID == n.PhoneNumberID
	case isAccountEvent(f.Kind):
		if f.PhoneNumberID != "" {
			return f.PhoneNumberID == n.PhoneNumberID
		}
		return f.BusinessAccountID == "" || f.BusinessAccountID == n.BusinessAccountID
	}
	return false
}

func (d *derivation) attempts() []Attempt {
	var links []string
	for _, f := range d.facts {
		if f.SetupLinkID != "" {
			links = appendUnique(links, f.SetupLinkID)
		}
	}
	out := make([]Attempt, 0, len(links))
	for _, link := range links {
		out = append(out, d.attempt(link))
	}
	// Oldest first; links never seen created (zero time) count as the oldest.
	slices.SortFunc(out, func(a, b Attempt) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.SetupLinkID, b.SetupLinkID)
	})
	return out
}

// closing is the earliest way a link stopped being usable; it decides the
// status of an attempt that had no outcome before it.
type closing struct {
	status AttemptStatus
	at     time.Time
	// by is the newer link, for a supersession.
	by string
}

func (c closing) earliest(o closing) closing {
	if c.status == "" || o.at.Before(c.at) {
		return o
	}
	return c
}

// attempt derives one link's attempt. Its status comes from what happened
// while the link could be used: a redirect after the link closed is kept,
// marked late, and decides nothing. A signed confirmation always counts.
func (d *derivation) attempt(link string) Attempt {
	a := Attempt{SetupLinkID: link, Redirects: d.redirects[link]}
	closed, isClosed := d.closings[link]
	for _, f := range d.facts {
		if d.confirms(f, link) {
			a.ConfirmedBy = appendUnique(a.ConfirmedBy, kindSource(f.Kind))
			if a.ConfirmedAt.IsZero() {
				a.ConfirmedAt, a.PhoneNumberID = f.At, f.PhoneNumberID
			}
		}
		if f.SetupLinkID != link || f.Kind != FactLinkCreated {
			continue
		}
		if a.CreatedAt.IsZero() {
			a.CreatedAt = f.At
		}
		overwrite(&a.URL, f.URL)
		overwrite(&a.CreatedBy, f.CreatedBy)
		if !f.ExpiresAt.IsZero() {
			a.ExpiresAt = f.ExpiresAt
		}
		if len(f.AllowedTypes) > 0 {
			a.AllowedConnectionTypes = f.AllowedTypes
		}
	}
	slices.Sort(a.ConfirmedBy)

	trustedSuccess := func(r RedirectSeen) bool { return r.Kind == RedirectSuccess && !r.Suspicious && !r.Late }
	matching := func(r RedirectSeen) bool {
		return r.Kind == RedirectSuccess && !r.Suspicious && r.PhoneNumberID == a.PhoneNumberID
	}
	failure := func(r RedirectSeen) bool { return r.Kind == RedirectFailure && !r.Late }
	suspicious := func(r RedirectSeen) bool { return r.Suspicious }
	reported := lastRedirect(a.Redirects, failure)
	kapsoFailures := d.setupFailures[link]
	switch {
	case len(a.ConfirmedBy) > 0:
		a.Status = AttemptConfirmed
		a.Redirect = firstRedirect(a.Redirects, matching)
	case firstRedirect(a.Redirects, trustedSuccess) != nil:
		// A trusted success outranks a failure: the failure is usually an
		// earlier try on the same link, and the reconciler will settle it.
		a.Status = AttemptRedirectedSuccess
		a.Redirect = firstRedirect(a.Redirects, trustedSuccess)
	case len(kapsoFailures) > 0:
		// Kapso's own record of the link: the failure is borne out.
		a.Status = AttemptFailed
		latest := kapsoFailures[len(kapsoFailures)-1]
		a.ErrorCode, a.ErrorReportedBy = latest.ErrorCode, ReportedByKapso
		a.Redirect = firstRedirect(a.Redirects, suspicious)
	case isClosed:
		a.Status, a.ClosedAt = closed.status, closed.at
		if closed.status == AttemptSuperseded {
			a.SupersededBy = closed.by
		}
		a.Redirect = firstRedirect(a.Redirects, suspicious)
	default:
		// A failure only the browser reported (the redirect is unsigned,
		// anyone can type it) leaves the link usable: the person may try
		// again, and a forged report must not close it. It is shown.
		a.Status = AttemptActive
		a.Redirect = firstRedirect(a.Redirects, suspicious)
		if reported != nil {
			a.ErrorCode, a.ErrorReportedBy = reported.ErrorCode, ReportedByBrowser
		}
	}
	a.History = attemptHistory(a, closed, isClosed, kapsoFailures)
	return a
}

// attemptHistory lists what happened to the attempt in time order. The
// closing of the link is part of it when the link could still be used then
// (nothing had succeeded on it), whatever the attempt's status.
func attemptHistory(a Attempt, closed closing, isClosed bool, kapsoFailures []AttemptEvent) []AttemptEvent {
	type ranked struct {
		AttemptEvent
		rank int
	}
	var events []ranked
	if !a.CreatedAt.IsZero() {
		events = append(events, ranked{AttemptEvent{At: a.CreatedAt, Event: AttemptEventCreated}, 0})
	}
	usedBefore := func(at time.Time) bool {
		if !a.ConfirmedAt.IsZero() && a.ConfirmedAt.Before(at) {
			return true
		}
		return slices.ContainsFunc(a.Redirects, func(r RedirectSeen) bool {
			return r.Kind == RedirectSuccess && !r.Suspicious && r.At.Before(at)
		})
	}
	if isClosed && !usedBefore(closed.at) {
		kind := map[AttemptStatus]AttemptEventKind{AttemptSuperseded: AttemptEventSuperseded,
			AttemptExpired: AttemptEventExpired, AttemptRevoked: AttemptEventRevoked}[closed.status]
		events = append(events, ranked{AttemptEvent{At: closed.at, Event: kind, SupersededBy: closed.by}, 1})
	}
	for _, r := range a.Redirects {
		e := AttemptEvent{At: r.At, Event: AttemptEventSuccess, PhoneNumberID: r.PhoneNumberID, Late: r.Late}
		switch {
		case r.Kind == RedirectFailure:
			e.Event, e.ErrorCode, e.ReportedBy = AttemptEventFailure, r.ErrorCode, ReportedByBrowser
		case r.Suspicious:
			e.Event, e.Reason = AttemptEventSuspicious, r.SuspiciousReason
		}
		events = append(events, ranked{e, 2})
	}
	for _, e := range kapsoFailures {
		events = append(events, ranked{e, 2})
	}
	if !a.ConfirmedAt.IsZero() {
		events = append(events, ranked{AttemptEvent{At: a.ConfirmedAt, Event: AttemptEventConfirmed,
			PhoneNumberID: a.PhoneNumberID}, 3})
	}
	// Stable: redirects keep their canonical order.
	slices.SortStableFunc(events, func(x, y ranked) int {
		if c := x.At.Compare(y.At); c != 0 {
			return c
		}
		return cmp.Compare(x.rank, y.rank)
	})
	out := make([]AttemptEvent, len(events))
	for i, e := range events {
		out[i] = e.AttemptEvent
	}
	return out
}

func firstRedirect(rs []RedirectSeen, match func(RedirectSeen) bool) *RedirectSeen {
	if i := slices.IndexFunc(rs, match); i >= 0 {
		r := rs[i]
		return &r
	}
	return nil
}

func lastRedirect(rs []RedirectSeen, match func(RedirectSeen) bool) *RedirectSeen {
	for i := len(rs) - 1; i >= 0; i-- {
		if match(rs[i]) {
			r := rs[i]
			return &r
		}
	}
	return nil
}

// tenantStatus maps attempts and numbers to the tenant's status and its
// usable link. A disabled account wins, then a connected number (restricted
// or not), then a loss of numbers; a link created after a disablement or a
// loss lets the newest attempt speak instead. Without numbers the newest
// attempt decides.
func tenantStatus(attempts []Attempt, numbers []PhoneNumber) (TenantStatus, string) {
	var newest *Attempt
	activeLink := ""
	if len(attempts) > 0 {
		newest = &attempts[len(attempts)-1]
		if newest.Status == AttemptActive {
			activeLink = newest.SetupLinkID
		}
	}
	createdAfter := func(at time.Time) bool { return newest != nil && newest.CreatedAt.After(at) }
	if disabledAt, ok := latestWith(numbers, NumberStatusAccountDisabled); ok && !createdAfter(disabledAt) {
		return TenantDisabled, activeLink
	}
	if slices.ContainsFunc(numbers, func(n PhoneNumber) bool { return n.Status == NumberStatusConnected && n.Restricted }) {
		return TenantRestricted, activeLink
	}
	if slices.ContainsFunc(numbers, func(n PhoneNumber) bool { return n.Status == NumberStatusConnected }) {
		return TenantConnected, activeLink
	}
	lost, lostAt := numbersLost(numbers)
	if lost != "" && !createdAfter(lostAt) {
		return lost, activeLink
	}
	if newest == nil {
		return TenantNotStarted, activeLink
	}
	switch newest.Status {
	case AttemptActive:
		return TenantLinkActive, activeLink
	case AttemptRedirectedSuccess:
		return TenantAwaitingConfirmation, activeLink
	case AttemptFailed:
		return TenantFailed, activeLink
	case AttemptConfirmed:
		// Its number exists but is not connected: it was lost.
		return cmp.Or(lost, TenantDisconnected), activeLink
	}
	// Expired or revoked: the link can no longer be used either way.
	return TenantExpired, activeLink
}

// latestWith reports whether any number has the status, and the latest
// time one took it.
func latestWith(numbers []PhoneNumber, status PhoneNumberStatus) (time.Time, bool) {
	var at time.Time
	found := false
	for _, n := range numbers {
		if n.Status == status {
			found = true
			if n.StatusSince.After(at) {
				at = n.StatusSince
			}
		}
	}
	return at, found
}

// numbersLost says how the tenant lost its numbers, if it did, and when the
// last one went: reconnect_required when any was disconnected (a reconnect
// signup can bring it back), else disconnected.
func numbersLost(numbers []PhoneNumber) (TenantStatus, time.Time) {
	var status TenantStatus
	var at time.Time
	for _, n := range numbers {
		switch n.Status {
		case NumberStatusDisconnected:
			status = TenantReconnectRequired
		case NumberStatusDeleted, NumberStatusOffboarded, NumberStatusAccountDisabled:
			if status == "" {
				status = TenantDisconnected
			}
		default:
			continue
		}
		if n.StatusSince.After(at) {
			at = n.StatusSince
		}
	}
	return status, at
}

func appendUnique[T comparable](list []T, v T) []T {
	if slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

// overwrite sets *dst to v unless v is empty, so a later fact that lacks a
// field does not erase what an earlier one said.
// readHealth takes a health reading into n: every value as read, unknown
// ones included, since a reading is the whole of the number's health.
func readHealth(n *PhoneNumber, f Fact) {
	if f.NameStatus != n.NameStatus {
		n.NameStatus, n.NameStatusSince = f.NameStatus, f.At
	}
	n.QualityRating, n.MessagingLimitTier, n.Throughput = f.QualityRating, f.MessagingLimitTier, f.Throughput
	overwrite(&n.VerifiedName, f.VerifiedName)
	n.HealthReadAt = f.At
}

func overwrite[T ~string](dst *T, v T) {
	if v != "" {
		*dst = v
	}
}
