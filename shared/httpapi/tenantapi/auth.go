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

// bearerChallenge is the WWW-Authenticate of every 401 (RFC 6750): with
// error="invalid_token" when a bearer token was given but is not the one,
// without an error code when none was given.
const bearerChallenge = `Bearer realm="kapso-bridge"`

// requireBearer lets through only requests with "Authorization: Bearer
// <token>". The comparison is constant-time over digests, so neither the
// token's content nor its length leaks through timing. An empty configured
// token refuses everything: a missing setting must not open the API.
func requireBearer(token string, log *slog.Logger, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		values := r.Header.Values("Authorization")
		header := r.Header.Get("Authorization")
		got, ok := bearerToken(header)
		sum := sha256.Sum256([]byte(got))
		match := token != "" && ok && subtle.ConstantTimeCompare(want[:], sum[:]) == 1
		switch {
		case len(values) > 1 || !match && strings.Contains(header, ","):
			// Which of several credentials counts is for no one to guess.
			// API Gateway joins repeated headers with commas, and a bearer
			// token (RFC 6750's b64token) holds none: a comma in a header
			// that does not match is several headers as they reach the Lambda.
			httpapi.WriteError(w, log, errs.E(errs.Invalid, "Authorization: send one header with one bearer token", nil),
				"method", r.Method, "path", r.URL.Path)
		case !match:
			challenge := bearerChallenge
			if ok {
				challenge += `, error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
			httpapi.WriteError(w, log, errs.E(errs.Unauthorized, "missing or invalid bearer token", nil),
				"method", r.Method, "path", r.URL.Path)
		default:
			next.ServeHTTP(w, r)
		}
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
