package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
)

var _ media.Store = (*Messages)(nil)

// mediaRetry is a message whose media copy is due again (twin of the
// MEDIARETRY items of dynamo.Messages).
type mediaRetry struct {
	retry media.Retry
	due   time.Time
}

// mediaInfo is the message's Info as MediaState reads it: a message with
// media and no state yet is pending.
func (m *message) mediaInfo() media.Info {
	info := m.media
	if info.State == "" && m.m.Media != nil {
		info.State = media.Pending
	}
	return info
}

// MediaState implements media.Store.
func (s *Messages) MediaState(_ context.Context, tenantID, wamid string) (media.Info, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tenants[tenantID]
	if !ok {
		return media.Info{}, false, nil
	}
	m, ok := t.messages[wamid]
	if !ok {
		return media.Info{}, false, nil
	}
	return m.mediaInfo(), true, nil
}

// SetMedia implements media.Store: a stored Info is final, and the message
// is a retry exactly while its Info is a Failed one that media.Retryable
// allows.
func (s *Messages) SetMedia(_ context.Context, tenantID, wamid string, info media.Info, next time.Time) error {
	if tenantID == "" || wamid == "" || info.State == "" {
		return fmt.Errorf("set media of %s: %w", wamid, invalid("media state without tenant, WAMID or state"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenant(tenantID)
	m, ok := t.messages[wamid]
	if !ok {
		return fmt.Errorf("set media of %s: %w", wamid, errs.E(errs.NotFound, "message not stored", nil))
	}
	if m.media.State == media.Stored {
		return nil
	}
	info.At = info.At.UTC()
	m.media = info
	r := media.Retry{TenantID: tenantID, WAMID: wamid}
	s.retries = slices.DeleteFunc(s.retries, func(x mediaRetry) bool { return x.retry == r })
	if info.State == media.Failed && media.Retryable(info.Error) {
		s.retries = append(s.retries, mediaRetry{retry: r, due: next.UTC()})
	}
	return nil
}

// DueMediaRetries implements media.Store.
func (s *Messages) DueMediaRetries(_ context.Context, now time.Time, limit int) ([]media.Retry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	due := slices.DeleteFunc(slices.Clone(s.retries), func(x mediaRetry) bool { return x.due.After(now) })
	// The order of the adapter's sort key: due time, then tenant, then WAMID.
	slices.SortFunc(due, func(a, b mediaRetry) int {
		return cmp.Or(a.due.Compare(b.due), cmp.Compare(a.retry.TenantID, b.retry.TenantID),
			cmp.Compare(a.retry.WAMID, b.retry.WAMID))
	})
	var out []media.Retry
	for _, x := range due[:min(len(due), max(limit, 0))] {
		out = append(out, x.retry)
	}
	return out, nil
}
