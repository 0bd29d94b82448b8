package messaging

import "context"

// Origin says what made a change a Store writes. The stores keep it on the
// items the change wrote, in the same write, so that the event the change
// makes can say where it came from; a write under no origin leaves what
// was kept.
type Origin string

const (
	// OriginWebhook: a Kapso or Meta webhook, delivered or kept until its
	// number connected.
	OriginWebhook Origin = "webhook"
	// OriginReconciler: the reconciler's catch-up, from Kapso's records.
	OriginReconciler Origin = "reconciler"
)

type originKey struct{}

// WithOrigin is ctx for the writes of changes made by o. It travels in the
// context because every Store method takes one: the origin is what the
// caller is doing, not part of any record.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginOf is the origin WithOrigin gave ctx, "" when none.
func OriginOf(ctx context.Context) Origin {
	o, _ := ctx.Value(originKey{}).(Origin)
	return o
}
