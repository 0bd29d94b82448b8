package onboarding

// Origin is what made a fact's change, as an event of the change says it:
// one of the Origin constants.
type Origin string

const (
	// OriginWebhook: a signed Kapso webhook, or the Platform API bearing one
	// out.
	OriginWebhook Origin = "webhook"
	// OriginReconciler: a state the reconciler found, or a link it saw
	// close.
	OriginReconciler Origin = "reconciler"
	// OriginRedirect: a browser back from the setup page, and the Platform
	// API check it prompted.
	OriginRedirect Origin = "redirect"
	// OriginAPI: a call to kapso-bridge's API (a setup link), or
	// kapso-bridge's own call to Kapso (a number's webhook registered).
	OriginAPI Origin = "api"
)

// Origin is what made the fact.
func (f Fact) Origin() Origin {
	switch {
	case f.Source == SourceReconciler:
		return OriginReconciler
	case f.Source == SourceAPI:
		// A webhook's claim the Platform API bore out.
		return OriginWebhook
	}
	switch f.Kind {
	case FactSuccessRedirect, FactFailureRedirect, FactSuspiciousRedirect,
		// Confirmed on a success redirect's behalf: the reconciler's
		// confirmations carry their own source.
		FactAPIConfirmed:
		return OriginRedirect
	case FactLinkCreated, FactWebhookRegistered:
		return OriginAPI
	case FactLinkExpired, FactLinkRevoked, FactSetupFailed:
		return OriginReconciler
	}
	return OriginWebhook
}

// Cause is the fact whose append wrote a tenant's snapshot: what the event
// of a status change the write made says it came from.
type Cause struct {
	Kind FactKind
	// Reason is why the fact happened, as it said (a disconnection's
	// meta_token_expired, a restriction's policy), else its error code.
	Reason string
	Origin Origin
}

// CauseOf is the cause f is when its append writes the snapshot.
func CauseOf(f Fact) Cause {
	reason := f.Reason
	if reason == "" {
		reason = f.ErrorCode
	}
	return Cause{Kind: f.Kind, Reason: reason, Origin: f.Origin()}
}

// Snapshot is the tenant item a Store keeps of the tenant's derived
// connection, as the change of one is told: the listed tenant, the
// connection's version, and the cause of its latest write.
type Snapshot struct {
	TenantItem
	Version int
	Cause   Cause
}
