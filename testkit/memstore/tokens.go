package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// Tokens is the in-memory access.Store (twin of dynamo.Tokens).
type Tokens struct {
	mu     sync.Mutex
	byHash map[access.Hash]access.Token
}

var _ access.Store = (*Tokens)(nil)

// CreateToken implements access.Store.
func (s *Tokens) CreateToken(_ context.Context, h access.Hash, t access.Token) error {
	if err := access.CheckToken(t); err != nil {
		return fmt.Errorf("create token %q: %w", t.Name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byHash[h]; ok {
		return fmt.Errorf("create token %q: %w", t.Name, errs.E(errs.Conflict, "a token of this secret exists", nil))
	}
	if s.byHash == nil {
		s.byHash = map[access.Hash]access.Token{}
	}
	t.Scopes = slices.Clone(t.Scopes)
	t.CreatedAt, t.RevokedAt = t.CreatedAt.UTC(), time.Time{}
	s.byHash[h] = t
	return nil
}

// TokenByHash implements access.Store.
func (s *Tokens) TokenByHash(_ context.Context, h access.Hash) (access.Token, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.byHash[h]
	t.Scopes = slices.Clone(t.Scopes)
	return t, ok, nil
}

// TokensByName implements access.Store.
func (s *Tokens) TokensByName(_ context.Context, name string) ([]access.Token, error) {
	return s.list(func(t access.Token) bool { return t.Name == name }), nil
}

// ListTokens implements access.Store.
func (s *Tokens) ListTokens(context.Context) ([]access.Token, error) {
	return s.list(func(access.Token) bool { return true }), nil
}

// list is the tokens keep keeps, as dynamo.Tokens's list sorts them: by
// name, then creation time, then hash.
func (s *Tokens) list(keep func(access.Token) bool) []access.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	type row struct {
		h access.Hash
		t access.Token
	}
	var rows []row
	for h, t := range s.byHash {
		if keep(t) {
			t.Scopes = slices.Clone(t.Scopes)
			rows = append(rows, row{h, t})
		}
	}
	slices.SortFunc(rows, func(a, b row) int {
		return cmp.Or(cmp.Compare(a.t.Name, b.t.Name), a.t.CreatedAt.Compare(b.t.CreatedAt), cmp.Compare(a.h.String(), b.h.String()))
	})
	out := make([]access.Token, len(rows))
	for i, r := range rows {
		out[i] = r.t
	}
	return out
}

// RevokeTokens implements access.Store.
func (s *Tokens) RevokeTokens(_ context.Context, name string, at time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for h, t := range s.byHash {
		if t.Name == name && !t.Revoked() {
			t.RevokedAt = at.UTC()
			s.byHash[h] = t
			n++
		}
	}
	return n, nil
}
