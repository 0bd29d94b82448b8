package tenantapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi"
)

// requireBearer lets through only requests with "Authorization: Bearer
// <token>". The comparison is constant-time over digests, so neither the
// token's content nor its length leaks through timing. An empty configured
// token refuses everything: a missing setting must not open the API.
func requireBearer(token string, log *slog.Logger, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := bearerToken(r.Header.Get("Authorization"))
		sum := sha256.Sum256([]byte(got))
		if token == "" || !ok || subtle.ConstantTimeCompare(want[:], sum[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kapso-bridge"`)
			httpapi.WriteError(w, log, errs.E(errs.Unauthorized, "missing or invalid bearer token", nil),
				"method", r.Method, "path", r.URL.Path)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearerToken reads "Bearer <token>"; the scheme name is case-insensitive
// (RFC 7235).
func bearerToken(header string) (string, bool) {
	scheme, token, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}
