package messaging

import (
	"reflect"
	"testing"
	"time"
)

var (
	t0       = time.Unix(1773151560, 0).UTC()
	err47    = &StatusError{Code: 131047, Title: "Re-engagement message", Details: "24 hours"}
	sentU    = StatusUpdate{WAMID: "wamid.X", Status: Sent, At: t0.Add(1 * time.Second)}
	deliverU = StatusUpdate{WAMID: "wamid.X", Status: Delivered, At: t0.Add(2 * time.Second)}
	readU    = StatusUpdate{WAMID: "wamid.X", Status: Read, At: t0.Add(4 * time.Second)}
	failedU  = StatusUpdate{WAMID: "wamid.X", Status: Failed, At: t0.Add(3 * time.Second), Error: err47}
)

func permutations(us []StatusUpdate) [][]StatusUpdate {
	if len(us) <= 1 {
		return [][]StatusUpdate{append([]StatusUpdate(nil), us...)}
	}
	var out [][]StatusUpdate
	for i := range us {
		rest := append(append([]StatusUpdate(nil), us[:i]...), us[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]StatusUpdate{us[i]}, p...))
		}
	}
	return out
}

// Every order of sent, delivered, read and failed for one message, each
// delivered once or twice, ends in the same state.
func TestMergeOrderIndependent(t *testing.T) {
	all := []StatusUpdate{sentU, deliverU, readU, failedU}
	want := Delivery{
		WAMID: "wamid.X", Status: Read, At: readU.At, Error: err47,
		History: []StatusEntry{
			{Status: Sent, At: sentU.At},
			{Status: Delivered, At: deliverU.At},
			{Status: Failed, At: failedU.At, Error: err47},
			{Status: Read, At: readU.At},
		},
	}
	perms := permutations(all)
	if len(perms) != 24 {
		t.Fatalf("%d permutations", len(perms))
	}
	for _, p := range perms {
		for _, seq := range [][]StatusUpdate{
			p,
			append(append([]StatusUpdate(nil), p...), p...),        // the whole set redelivered
			{p[0], p[0], p[1], p[2], p[1], p[3], p[3], p[0], p[2]}, // retries mid-stream
		} {
			if got := mergeAll(Delivery{}, seq...); !reflect.DeepEqual(got, want) {
				t.Fatalf("order %v:\n got %+v\nwant %+v", names(seq), got, want)
			}
		}
	}
}

// Without a read, failed is final whatever the order: a late sent or
// delivered never replaces it, and its error is kept.
func TestMergeFailedIsKept(t *testing.T) {
	for _, p := range permutations([]StatusUpdate{sentU, deliverU, failedU}) {
		got := mergeAll(Delivery{}, append(p, p...)...)
		if got.Status != Failed || got.Error != err47 || got.At != failedU.At || len(got.History) != 3 {
			t.Fatalf("order %v: %+v", names(p), got)
		}
	}
	// A delivered reported after the failure (later time) still loses.
	late := deliverU
	late.At = failedU.At.Add(time.Minute)
	got := mergeAll(Delivery{}, failedU, late)
	if got.Status != Failed || got.Error == nil {
		t.Fatalf("late delivered: %+v", got)
	}
}

func TestMergeForwardOnly(t *testing.T) {
	for _, p := range permutations([]StatusUpdate{sentU, deliverU, readU}) {
		got := mergeAll(Delivery{}, p...)
		if got.Status != Read || got.At != readU.At || got.Error != nil || len(got.History) != 3 {
			t.Fatalf("order %v: %+v", names(p), got)
		}
	}
}

func TestMergeChanged(t *testing.T) {
	d, changed := Merge(Delivery{}, deliverU)
	if !changed || d.Status != Delivered {
		t.Fatalf("first: %+v %v", d, changed)
	}
	before := d
	if d2, changed := Merge(d, deliverU); changed || !reflect.DeepEqual(d2, before) {
		t.Errorf("duplicate changed the state: %+v", d2)
	}
	// An older status is new history but does not move the status back.
	d3, changed := Merge(d, sentU)
	if !changed || d3.Status != Delivered || len(d3.History) != 2 || len(d.History) != 1 {
		t.Errorf("late sent: %+v (input now %+v)", d3, d)
	}
	other := sentU
	other.WAMID = "wamid.OTHER"
	if _, changed := Merge(d, other); changed {
		t.Error("another message's status was merged")
	}
	if _, changed := Merge(d, StatusUpdate{WAMID: "wamid.X", Status: "deleted", At: t0}); changed {
		t.Error("an unknown status was merged")
	}
}

// A status known only from Kapso's message.kapso.status (no time) is
// replaced by the same status with Meta's time, in either order.
func TestMergeUntimedStatus(t *testing.T) {
	untimed := StatusUpdate{WAMID: "wamid.X", Status: Delivered}
	a := mergeAll(Delivery{}, untimed, sentU, deliverU)
	b := mergeAll(Delivery{}, deliverU, sentU, untimed)
	if !reflect.DeepEqual(a, b) || len(a.History) != 2 || a.At != deliverU.At {
		t.Fatalf("\na %+v\nb %+v", a, b)
	}
}

// The same failure twice, once with its error and once without, is one
// entry that keeps the error.
func TestMergeDuplicateKeepsError(t *testing.T) {
	bare := failedU
	bare.Error = nil
	for _, seq := range [][]StatusUpdate{{bare, failedU}, {failedU, bare}} {
		got := mergeAll(Delivery{}, seq...)
		if len(got.History) != 1 || got.Error != err47 || got.History[0].Error != err47 {
			t.Fatalf("%+v", got)
		}
	}
}

// A status merged before its message is stored gives, once the message's
// own statuses are merged, the state of the other order.
func TestMergeStatusBeforeMessage(t *testing.T) {
	early := mergeAll(Delivery{}, readU)          // a Meta status, message not stored yet
	atArrival := mergeAll(early, sentU, deliverU) // the message arrives with its history
	messageFirst := mergeAll(Delivery{}, sentU, deliverU, readU)
	if !reflect.DeepEqual(atArrival, messageFirst) {
		t.Fatalf("\n got %+v\nwant %+v", atArrival, messageFirst)
	}
}

func names(us []StatusUpdate) []Status {
	out := make([]Status, len(us))
	for i, u := range us {
		out[i] = u.Status
	}
	return out
}
