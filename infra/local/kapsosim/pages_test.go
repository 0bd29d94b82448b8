package kapsosim

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// The simulator's pages may not be framed or sniffed and run no script;
// the home page's style carries its answer's nonce.
func TestPagesForbidFramingAndScripts(t *testing.T) {
	h := newHarness(t, Options{})
	link := h.link(h.customer("t1"), nil)["url"].(string)
	for _, u := range []string{h.srv.URL + "/", link} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		if resp.StatusCode != 200 || !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe-inline") ||
			resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: %d %v", u, resp.StatusCode, resp.Header)
		}
		_, after, _ := strings.Cut(csp, "style-src 'nonce-")
		nonce, _, _ := strings.Cut(after, "'")
		if n := strings.Count(string(b), "<style"); n != strings.Count(string(b), `<style nonce="`+nonce+`"`) || n > 0 && nonce == "" {
			t.Errorf("GET %s: a style without the policy's nonce (%q)", u, csp)
		}
	}
}
