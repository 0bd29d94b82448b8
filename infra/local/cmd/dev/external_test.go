package main

import (
	"slices"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
)

func TestEventWebhooksScheduleVariable(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == envEventWebhooksSchedule {
				return v
			}
			return ""
		}
	}
	var o stack.Options
	if _, err := applyExternal(&o, env("")); err != nil || o.EventWebhooksSchedule != nil {
		t.Fatalf("unset: %v, schedule %v", err, o.EventWebhooksSchedule)
	}
	if _, err := applyExternal(&o, env("1s, 2s,5s")); err != nil ||
		!slices.Equal(o.EventWebhooksSchedule, []time.Duration{time.Second, 2 * time.Second, 5 * time.Second}) {
		t.Fatalf("1s, 2s,5s: %v, schedule %v", err, o.EventWebhooksSchedule)
	}
	for _, bad := range []string{"0s", "500ms", "1.5s", "13h", "1s,,2s", "soon"} {
		o = stack.Options{}
		if _, err := applyExternal(&o, env(bad)); err == nil || o.EventWebhooksSchedule != nil {
			t.Errorf("%q: %v, schedule %v", bad, err, o.EventWebhooksSchedule)
		}
	}
}
