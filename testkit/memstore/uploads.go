package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/media"
)

// Uploads is the in-memory media.Uploads (twin of dynamo.Uploads).
type Uploads struct {
	mu      sync.Mutex
	byBytes map[uploadKey]media.Upload
	byID    map[uploadKey]media.Upload
}

// uploadKey names an upload as dynamo.Uploads's keys do: the tenant, the
// number, and the bytes' sha256 or the media id.
type uploadKey struct{ tenant, number, id string }

var _ media.Uploads = (*Uploads)(nil)

// Upload implements media.Uploads.
func (s *Uploads) Upload(_ context.Context, tenantID, phoneNumberID, sha256 string) (media.Upload, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.byBytes[uploadKey{tenantID, phoneNumberID, sha256}]
	return u, ok, nil
}

// UploadByMediaID implements media.Uploads.
func (s *Uploads) UploadByMediaID(_ context.Context, tenantID, phoneNumberID, mediaID string) (media.Upload, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.byID[uploadKey{tenantID, phoneNumberID, mediaID}]
	return u, ok, nil
}

// PutUpload implements media.Uploads.
func (s *Uploads) PutUpload(_ context.Context, u media.Upload, staleBefore time.Time) (media.Upload, bool, error) {
	if err := media.CheckUpload(u); err != nil {
		return media.Upload{}, false, fmt.Errorf("put upload %s: %w", u.SHA256, err)
	}
	u.CreatedAt = u.CreatedAt.UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	k := uploadKey{u.TenantID, u.PhoneNumberID, u.SHA256}
	if cur, ok := s.byBytes[k]; ok && !cur.CreatedAt.Before(staleBefore) {
		return cur, false, nil
	}
	if s.byBytes == nil {
		s.byBytes, s.byID = map[uploadKey]media.Upload{}, map[uploadKey]media.Upload{}
	}
	s.byBytes[k] = u
	s.byID[uploadKey{u.TenantID, u.PhoneNumberID, u.MediaID}] = u
	return u, true, nil
}
