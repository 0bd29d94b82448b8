package tenantapi

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi"
)

// bearerChallenge is the WWW-Authenticate of every 401 (RFC 6750): with
// error="invalid_token" when a bearer token was given but is not one,
// without an error code when none was given.
const bearerChallenge = `Bearer realm="kapso-bridge"`

// requireBearer lets through only requests with "Authorization: Bearer
// <token>" whose token grants scope: the configured token (admin), or a
// named token's secret found in the store and not revoked. The token goes
// on in the request's context (access.FromContext). An empty configured
// token matches nothing: a missing setting must not open the API.
func requireBearer(auth *authenticator, scope access.Scope, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		values := r.Header.Values("Authorization")
		header := r.Header.Get("Authorization")
		got, ok := bearerToken(header)
		configured := ok && auth.isConfigured(got)
		if len(values) > 1 || !configured && strings.Contains(header, ",") {
			// Which of several credentials counts is for no one to guess.
			// API Gateway joins repeated headers with commas, and a bearer
			// token (RFC 6750's b64token) holds none: a comma in a header
			// that does not match is several headers as they reach the Lambda.
			httpapi.WriteError(w, log, errs.E(errs.Invalid, "Authorization: send one header with one bearer token", nil),
				"method", r.Method, "path", r.URL.Path)
			return
		}
		tok, found := configuredToken(), configured
		if ok && !configured {
			// A malformed secret never reaches the store.
			if h, err := access.Parse(got); err == nil {
				var lookErr error
				tok, found, lookErr = auth.lookup(r.Context(), h)
				if lookErr != nil {
					httpapi.WriteError(w, log, lookErr, "method", r.Method, "path", r.URL.Path)
					return
				}
			}
		}
		switch {
		case !found || tok.Revoked():
			challenge := bearerChallenge
			if ok {
				challenge += `, error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
			httpapi.WriteError(w, log, errs.E(errs.Unauthorized, "missing or invalid bearer token", nil),
				"method", r.Method, "path", r.URL.Path, "token", tok.Name)
		case !tok.Allows(scope):
			w.Header().Set("WWW-Authenticate", bearerChallenge+`, error="insufficient_scope", scope="`+string(scope)+`"`)
			httpapi.WriteError(w, log, errs.E(httpapi.InsufficientScope, "this token does not grant the "+string(scope)+" scope", nil),
				"method", r.Method, "path", r.URL.Path, "token", tok.Name)
		default:
			next.ServeHTTP(w, r.WithContext(access.NewContext(r.Context(), tok)))
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
