package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"sync"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// RunTokens holds a token store to its contract.
func RunTokens(t *testing.T, newStore func(t *testing.T) access.Store) {
	ctx := context.Background()
	create := func(t *testing.T, s access.Store, tok access.Token) access.Hash {
		t.Helper()
		_, h, err := access.NewSecret(rand.Reader)
		must(t, err)
		must(t, s.CreateToken(ctx, h, tok))
		return h
	}
	byHash := func(t *testing.T, s access.Store, h access.Hash) (access.Token, bool) {
		t.Helper()
		tok, ok, err := s.TokenByHash(ctx, h)
		must(t, err)
		return tok, ok
	}
	ci := access.Token{Name: "ci", Scopes: []access.Scope{access.Read, access.Send}, CreatedAt: at(1)}
	cases := map[string]func(t *testing.T, s access.Store){
		"a token is found by its hash, listed by its name": func(t *testing.T, s access.Store) {
			h := create(t, s, ci)
			got, ok := byHash(t, s, h)
			if !ok {
				t.Fatal("not found")
			}
			equal(t, "by hash", got, ci)
			_, other, _ := access.NewSecret(rand.Reader)
			if _, ok := byHash(t, s, other); ok {
				t.Error("an unknown hash is found")
			}
			list, err := s.TokensByName(ctx, "ci")
			must(t, err)
			equal(t, "by name", list, []access.Token{ci})
			list, err = s.TokensByName(ctx, "c")
			must(t, err)
			if len(list) != 0 {
				t.Errorf("a name's prefix lists %v", list)
			}
		},
		"two tokens of a name both work until the name is revoked": func(t *testing.T, s access.Store) {
			old := create(t, s, ci)
			next := ci
			next.CreatedAt = at(2)
			newer := create(t, s, next)
			ops := access.Token{Name: "ops", Scopes: []access.Scope{access.Admin}, CreatedAt: at(0)}
			opsHash := create(t, s, ops)
			list, err := s.ListTokens(ctx)
			must(t, err)
			equal(t, "every token, by name then age", list, []access.Token{ci, next, ops})
			for _, h := range []access.Hash{old, newer} {
				if tok, ok := byHash(t, s, h); !ok || tok.Revoked() {
					t.Errorf("before the revocation: %+v %v", tok, ok)
				}
			}
			n, err := s.RevokeTokens(ctx, "ci", at(3))
			must(t, err)
			if n != 2 {
				t.Errorf("revoked %d, want 2", n)
			}
			for _, h := range []access.Hash{old, newer} {
				tok, ok := byHash(t, s, h)
				if !ok || !tok.RevokedAt.Equal(at(3)) || tok.Allows(access.Read) {
					t.Errorf("after the revocation: %+v %v", tok, ok)
				}
			}
			if tok, _ := byHash(t, s, opsHash); tok.Revoked() {
				t.Error("another name's token was revoked")
			}
			list, err = s.TokensByName(ctx, "ci")
			must(t, err)
			if len(list) != 2 || !list[0].RevokedAt.Equal(at(3)) || !list[1].RevokedAt.Equal(at(3)) {
				t.Errorf("listed after the revocation: %+v", list)
			}
			// Revoked again, nothing changes: the first time stays.
			n, err = s.RevokeTokens(ctx, "ci", at(4))
			must(t, err)
			if tok, _ := byHash(t, s, old); n != 0 || !tok.RevokedAt.Equal(at(3)) {
				t.Errorf("revoked again: %d, %+v", n, tok)
			}
			if n, err := s.RevokeTokens(ctx, "nobody", at(4)); n != 0 || err != nil {
				t.Errorf("an unknown name: %d %v", n, err)
			}
		},
		"a hash is stored once": func(t *testing.T, s access.Store) {
			_, h, _ := access.NewSecret(bytes.NewReader(bytes.Repeat([]byte{1}, 32)))
			must(t, s.CreateToken(ctx, h, ci))
			other := access.Token{Name: "other", Scopes: []access.Scope{access.Admin}, CreatedAt: at(2)}
			if err := s.CreateToken(ctx, h, other); errs.CodeOf(err) != errs.Conflict {
				t.Errorf("second create: %v", err)
			}
			got, _ := byHash(t, s, h)
			equal(t, "the first", got, ci)
			if list, _ := s.TokensByName(ctx, "other"); len(list) != 0 {
				t.Errorf("the refused token is listed: %v", list)
			}
		},
		"malformed tokens are refused": func(t *testing.T, s access.Store) {
			for name, tok := range map[string]access.Token{
				"bad name":      {Name: "ci#2", Scopes: ci.Scopes, CreatedAt: at(1)},
				"no scope":      {Name: "ci", CreatedAt: at(1)},
				"unknown scope": {Name: "ci", Scopes: []access.Scope{"root"}, CreatedAt: at(1)},
			} {
				_, h, _ := access.NewSecret(rand.Reader)
				if err := s.CreateToken(ctx, h, tok); errs.CodeOf(err) != errs.Invalid {
					t.Errorf("%s: %v", name, err)
				}
			}
			list, err := s.ListTokens(ctx)
			must(t, err)
			if len(list) != 0 {
				t.Errorf("refused tokens listed: %v", list)
			}
		},
		"racing revocations revoke each token once": func(t *testing.T, s access.Store) {
			for i := range 3 {
				tok := ci
				tok.CreatedAt = at(i)
				create(t, s, tok)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			total := 0
			for range 4 {
				wg.Go(func() {
					n, err := s.RevokeTokens(ctx, "ci", at(5))
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						t.Error(err)
					}
					total += n
				})
			}
			wg.Wait()
			if total != 3 {
				t.Errorf("%d revocations, want 3", total)
			}
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c(t, newStore(t))
		})
	}
}
