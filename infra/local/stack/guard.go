package stack

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/kapso-bridge/kapso-bridge/shared/httpapi"
)

// The local server holds the bearer token for the browser (the app page's
// send form) and runs the reconciler on demand: a page on another site
// must not drive it, neither by posting to 127.0.0.1 nor through a name of
// its own that resolves to 127.0.0.1 (DNS rebinding). So the server answers
// only Host values that name this machine, its pages' forms refuse
// cross-site posts and carry a token only this process makes, and every
// page forbids framing and inline code other than its own.

// localGuard is the local server's checks of where a request comes from.
type localGuard struct {
	// secret signs the page tokens; made at Start, so a token dies with
	// the process that drew its page.
	secret []byte
	// publicHost is PUBLIC_BASE_URL's host when it does not name this
	// machine (a tunnel Kapso and browsers come through): kapso-bridge's
	// own routes answer there too, the local pages do not.
	publicHost string
	// mediaOrigin is the origin of the media bucket's presigned URLs (the
	// local S3 endpoint), the one place besides this server the app page
	// may load images from; "" allows none.
	mediaOrigin string
}

// newLocalGuard makes the guard of a server reached at publicBaseURL whose
// media bucket is served at mediaEndpoint.
func newLocalGuard(publicBaseURL, mediaEndpoint string) (*localGuard, error) {
	g := &localGuard{secret: make([]byte, 32), mediaOrigin: originOf(mediaEndpoint)}
	if _, err := rand.Read(g.secret); err != nil {
		return nil, err
	}
	if u, err := url.Parse(publicBaseURL); err == nil && u.Host != "" && !loopbackHost(u.Host) {
		g.publicHost = strings.ToLower(u.Host)
	}
	return g, nil
}

// originOf is the origin (scheme://host[:port]) of an http or https
// endpoint, for a Content Security Policy source; "" for anything else,
// so that no wildcard, path or second directive can ride along.
func originOf(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil ||
		strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
		return ""
	}
	for _, c := range u.Host {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune(".-:[]", c)) {
			return ""
		}
	}
	return u.Scheme + "://" + strings.ToLower(u.Host)
}

// loopbackHost: a Host header naming this machine: 127.0.0.1, localhost or
// [::1], with or without a port.
func loopbackHost(host string) bool {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		name = host[1 : len(host)-1]
	}
	switch strings.ToLower(name) {
	case "127.0.0.1", "localhost", "::1":
		return true
	}
	return false
}

// localPage: a route only the local stack has (the app and index pages,
// the /_dev/ controls), as opposed to kapso-bridge's own routes.
func localPage(path string) bool {
	return path == "/" || strings.HasPrefix(path, "/app/") || strings.HasPrefix(path, "/_dev/")
}

// hosts answers only requests whose Host names this machine, or the public
// host for kapso-bridge's own routes.
func (g *localGuard) hosts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if loopbackHost(r.Host) || g.publicHost != "" && strings.ToLower(r.Host) == g.publicHost && !localPage(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		refuse(w, http.StatusMisdirectedRequest, "misdirected",
			"the local stack answers only at 127.0.0.1, localhost or [::1] (its pages are for this machine only); "+
				"this request named another host")
	})
}

// sameOrigin refuses a request a browser sent from another origin: its
// Origin, when present, must be this server's own, and its Sec-Fetch-Site,
// when present, same-origin or none. Tools (curl, make reconcile) send
// neither.
func sameOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
			refuse(w, http.StatusForbidden, "forbidden", "a form from another origin cannot post here")
			return
		}
		switch r.Header.Get("Sec-Fetch-Site") {
		case "", "same-origin", "none":
		default:
			refuse(w, http.StatusForbidden, "forbidden", "a form from another site cannot post here")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// pageToken binds a send form to this process, its tenant and its
// idempotency key (new at each drawing of the page): only a page this
// process drew can send.
func (g *localGuard) pageToken(tenantID, idempotencyKey string) string {
	m := hmac.New(sha256.New, g.secret)
	m.Write([]byte("app-send\x00" + tenantID + "\x00" + idempotencyKey))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validToken: token is the one pageToken gave for these values.
func (g *localGuard) validToken(token, tenantID, idempotencyKey string) bool {
	return token != "" && hmac.Equal([]byte(token), []byte(g.pageToken(tenantID, idempotencyKey)))
}

func refuse(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	body.Error.Code, body.Error.Message = code, message
	httpapi.WriteJSON(w, status, body)
}

type nonceKey struct{}

// pageHeaders sets the headers of every local page: a Content Security
// Policy that runs only the page's own script and style (marked with a
// nonce made for this answer), talks only to this server, loads images
// only from it and from imgOrigin when given (an origin from originOf),
// and may not be framed; no content-type sniffing.
func pageHeaders(next http.Handler, imgOrigin string) http.Handler {
	img := "'self'"
	if imgOrigin != "" {
		img += " " + imgOrigin
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nonce := rand.Text()
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; style-src 'nonce-"+nonce+"'; "+
			"connect-src 'self'; img-src "+img+"; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), nonceKey{}, nonce)))
	})
}

// pageNonce is the nonce pageHeaders made for r's answer.
func pageNonce(r *http.Request) string {
	n, _ := r.Context().Value(nonceKey{}).(string)
	return n
}
