package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/offboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// Offboardings is the in-memory offboarding.Store (twin of
// dynamo.Offboardings).
type Offboardings struct {
	mu   sync.Mutex
	jobs map[string]offboarding.Job
}

var _ offboarding.Store = (*Offboardings)(nil)

// Start implements offboarding.Store.
func (s *Offboardings) Start(_ context.Context, j offboarding.Job) (offboarding.Job, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.jobs[j.TenantID]; ok && !old.Done() {
		return cloneOffboarding(old), false, nil
	}
	if s.jobs == nil {
		s.jobs = map[string]offboarding.Job{}
	}
	j.Version = 1
	s.jobs[j.TenantID] = cloneOffboarding(j)
	return cloneOffboarding(j), true, nil
}

// Job implements offboarding.Store.
func (s *Offboardings) Job(_ context.Context, tenantID string) (offboarding.Job, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[tenantID]
	return cloneOffboarding(j), ok, nil
}

// Save implements offboarding.Store.
func (s *Offboardings) Save(_ context.Context, j offboarding.Job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.jobs[j.TenantID]
	if !ok || old.Version != j.Version-1 {
		return fmt.Errorf("save offboarding of %s: %w", j.TenantID, offboarding.ErrJobMoved)
	}
	s.jobs[j.TenantID] = cloneOffboarding(j)
	return nil
}

// Unfinished implements offboarding.Store.
func (s *Offboardings) Unfinished(_ context.Context, limit int) ([]offboarding.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []offboarding.Job
	for _, j := range s.jobs {
		if !j.Done() {
			out = append(out, cloneOffboarding(j))
		}
	}
	slices.SortFunc(out, func(a, b offboarding.Job) int {
		return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), cmp.Compare(a.TenantID, b.TenantID))
	})
	return out[:min(limit, len(out))], nil
}

func cloneOffboarding(j offboarding.Job) offboarding.Job {
	j.SetupLinks, j.Webhooks, j.PhoneNumberIDs = slices.Clone(j.SetupLinks), slices.Clone(j.Webhooks), slices.Clone(j.PhoneNumberIDs)
	return j
}

// memEraser is an offboarding.Eraser that erases all it holds of the
// tenant in one call.
type memEraser struct {
	name  string
	erase func(t offboarding.Target) offboarding.Counts
}

func (e memEraser) Name() string { return e.name }

func (e memEraser) Erase(_ context.Context, t offboarding.Target, _ string) (offboarding.Counts, string, error) {
	return e.erase(t), "", nil
}

// Erasers are the in-memory twins of the offboarding erasers of the
// stores given (any may be nil), the tenant's own last, as the stack
// orders them: what dynamo.MessagingEraser, dynamo.TenantFeedEraser,
// dynamo.TenantEraser and s3media.Eraser delete.
func Erasers(o *Onboarding, n *Numbers, m *Messages, p *Pending, tpl *Templates, u *Uploads, f *Feed, obj *Objects) []offboarding.Eraser {
	var out []offboarding.Eraser
	add := func(name string, ok bool, erase func(t offboarding.Target) offboarding.Counts) {
		if ok {
			out = append(out, memEraser{name, erase})
		}
	}
	add("media bucket", obj != nil, func(t offboarding.Target) offboarding.Counts {
		obj.mu.Lock()
		defer obj.mu.Unlock()
		n := 0
		for k := range obj.objects {
			if strings.HasPrefix(k, media.TenantPrefix(t.TenantID)) {
				delete(obj.objects, k)
				n++
			}
		}
		return offboarding.Counts{Objects: n}
	})
	add("messaging", m != nil, func(t offboarding.Target) offboarding.Counts {
		m.mu.Lock()
		defer m.mu.Unlock()
		n := 0
		if tm := m.tenants[t.TenantID]; tm != nil {
			n = len(tm.messages) + len(tm.convs) + len(tm.outbox) + len(tm.aliases)
			for _, c := range tm.contacts {
				n += len(c)
			}
		}
		delete(m.tenants, t.TenantID)
		m.retries = slices.DeleteFunc(m.retries, func(r mediaRetry) bool { return r.retry.TenantID == t.TenantID })
		return offboarding.Counts{Items: n}
	})
	add("pending", p != nil, func(t offboarding.Target) offboarding.Counts {
		p.mu.Lock()
		defer p.mu.Unlock()
		n := 0
		for _, number := range t.PhoneNumberIDs {
			n += len(p.numbers[number])
			delete(p.numbers, number)
		}
		return offboarding.Counts{Items: n}
	})
	add("templates", tpl != nil, func(t offboarding.Target) offboarding.Counts {
		tpl.mu.Lock()
		defer tpl.mu.Unlock()
		n := len(tpl.templates[t.TenantID]) + len(tpl.marks[t.TenantID])
		delete(tpl.templates, t.TenantID)
		delete(tpl.marks, t.TenantID)
		return offboarding.Counts{Items: n}
	})
	add("uploads", u != nil, func(t offboarding.Target) offboarding.Counts {
		u.mu.Lock()
		defer u.mu.Unlock()
		n := 0
		for _, byKey := range []map[uploadKey]media.Upload{u.byBytes, u.byID} {
			for k, up := range byKey {
				if up.TenantID == t.TenantID {
					delete(byKey, k)
					n++
				}
			}
		}
		return offboarding.Counts{Items: n}
	})
	add("events", f != nil, func(t offboarding.Target) offboarding.Counts {
		f.mu.Lock()
		defer f.mu.Unlock()
		before := len(f.entries)
		f.entries = slices.DeleteFunc(f.entries, func(e feedEntry) bool { return e.event.TenantID == t.TenantID })
		return offboarding.Counts{Items: 2 * (before - len(f.entries))}
	})
	add("numbers", n != nil, func(t offboarding.Target) offboarding.Counts {
		n.mu.Lock()
		defer n.mu.Unlock()
		c := 0
		for _, number := range t.PhoneNumberIDs {
			if got := n.numbers[number]; got != nil && got.TenantID == t.TenantID {
				delete(n.numbers, number)
				c++
			}
		}
		return offboarding.Counts{Items: c}
	})
	add("tenant", o != nil, func(t offboarding.Target) offboarding.Counts {
		defer o.lock()()
		c := 0
		for id, l := range o.links {
			if l.tenantID == t.TenantID {
				delete(o.links, id)
				c++
			}
		}
		for id, tenant := range o.customers {
			if tenant == t.TenantID {
				delete(o.customers, id)
				c++
			}
		}
		if tn := o.tenants[t.TenantID]; tn != nil && tn.status == onboarding.TenantDeleting {
			c += 1 + len(tn.facts)
			delete(o.tenants, t.TenantID)
		}
		return offboarding.Counts{Items: c}
	})
	return out
}
