package messaging

import (
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// checkMediaLink holds a media link to what Meta can fetch from the public
// internet: an absolute https URL whose host is a public name or address.
//
// Meta documents http and https links; kapso-bridge asks for https, so the
// media does not travel in the clear. Meta fetches the link from its own
// servers, not kapso-bridge: resolving the name here would not say what
// Meta reaches (DNS answers change, and differ by who asks), so names are
// judged by their form only, and an address is judged in every notation a
// URL parser reads as one (see ipv4). A public name that resolves to a
// private address is Meta's fetcher's to refuse.
func checkMediaLink(field, s string) *errs.FieldError {
	if utf8.RuneCountInString(s) > MaxMediaLinkChars {
		return errs.Field(field, fmt.Sprintf("must be at most %d characters", MaxMediaLinkChars))
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || strings.ContainsFunc(s, unicode.IsSpace) {
		return errs.Field(field, "must be an absolute https URL")
	}
	if problem := publicHost(u.Hostname()); problem != "" {
		return errs.Field(field, problem)
	}
	return nil
}

// checkComponentLinks checks every "link" of a template's components (a
// header's image, document or video, a carousel card's) as a media link:
// Meta fetches them as it fetches a media message's.
func checkComponentLinks(path string, v any) *errs.FieldError {
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			if ferr := checkComponentLinks(fmt.Sprintf("%s[%d]", path, i), e); ferr != nil {
				return ferr
			}
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			at := jsonPath(path, k)
			if link, ok := v[k].(string); ok && k == "link" {
				if ferr := checkMediaLink(at, link); ferr != nil {
					return ferr
				}
				continue
			}
			if ferr := checkComponentLinks(at, v[k]); ferr != nil {
				return ferr
			}
		}
	}
	return nil
}

const notPublic = "must point at a public host, not at a loopback, private, link-local or other non-public address"

// publicHost says what is wrong with a URL's host (brackets and port
// removed, percent-escapes decoded), or "" for a public one.
func publicHost(host string) string {
	if strings.Contains(host, ":") {
		a, err := netip.ParseAddr(host)
		switch {
		case err != nil:
			return "must have a valid host"
		case !publicAddr(a):
			return notPublic
		}
		return ""
	}
	// A browser maps an internationalised name (full-width digits
	// included) to ASCII before reading it: asking for the ASCII form
	// leaves nothing to map.
	host = strings.ToLower(host)
	if strings.ContainsFunc(host, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_')
	}) {
		return "must have a valid host name: ASCII letters, digits, dots and hyphens (an internationalised name in its xn-- form)"
	}
	if endsInNumber(host) {
		a, ok := ipv4(host)
		switch {
		case !ok:
			return "must have a valid host"
		case !publicAddr(a):
			return notPublic
		}
		return ""
	}
	name := strings.TrimSuffix(host, ".")
	switch {
	case slices.Contains(strings.Split(name, "."), ""):
		return "must have a valid host"
	case name == "localhost" || strings.HasSuffix(name, ".localhost"):
		return "must point at a public host, not at localhost"
	case !strings.Contains(name, "."):
		// A name of one label is resolved inside a network, never on the
		// public internet.
		return "must point at a public host: a name of one label is not one"
	}
	return ""
}

// endsInNumber is the URL Standard's test for a host that is to be read as
// an IPv4 address: its last label (after one trailing dot) is decimal
// digits, or a number as ipv4 reads one (0x…).
func endsInNumber(host string) bool {
	labels := strings.Split(host, ".")
	if labels[len(labels)-1] == "" {
		if len(labels) == 1 {
			return false
		}
		labels = labels[:len(labels)-1]
	}
	last := labels[len(labels)-1]
	if last != "" && strings.Trim(last, "0123456789") == "" {
		return true
	}
	_, ok := ipv4Number(last)
	return ok
}

// ipv4 reads a host as the URL Standard's IPv4 parser does, as browsers
// and inet_aton(3) do: one to four dot-separated numbers, each decimal,
// octal (a leading 0) or hexadecimal (0x), the last filling the bytes left:
// 2130706433, 0177.0.0.1, 0x7f.1 and 127.1 are all 127.0.0.1.
func ipv4(host string) (netip.Addr, bool) {
	parts := strings.Split(host, ".")
	if parts[len(parts)-1] == "" && len(parts) > 1 {
		parts = parts[:len(parts)-1]
	}
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, p := range parts {
		n, ok := ipv4Number(p)
		if !ok {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			if n > 255 {
				return netip.Addr{}, false
			}
			v |= n << (8 * (3 - i))
			continue
		}
		if n >= 1<<(8*(5-len(parts))) {
			return netip.Addr{}, false
		}
		v |= n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// ipv4Number reads one part of an IPv4 host; a number too large for 64
// bits is read as no number, which refuses the host either way.
func ipv4Number(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	base := 10
	switch {
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		base, s = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, s = 8, s[1:]
	}
	if s == "" {
		return 0, true
	}
	n, err := strconv.ParseUint(s, base, 64)
	return n, err == nil
}

// Addresses that are not reachable on the public internet: IANA's special
// purpose ranges that are not globally reachable, and multicast.
var nonPublicPrefixes = func() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range []string{
		"0.0.0.0/8",       // "this network", with the unspecified address
		"10.0.0.0/8",      // private (RFC 1918)
		"100.64.0.0/10",   // carrier-grade NAT
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local, with cloud metadata services
		"172.16.0.0/12",   // private
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation
		"192.168.0.0/16",  // private
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, with the broadcast address
		"::/128",          // unspecified
		"::1/128",         // loopback
		"64:ff9b:1::/48",  // local-use NAT64
		"100::/64",        // discard-only
		"2001:db8::/32",   // documentation
		"fc00::/7",        // unique local
		"fe80::/10",       // link-local
		"fec0::/10",       // site-local, deprecated
		"ff00::/8",        // multicast
	} {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}()

// IPv6 ranges that carry an IPv4 address in their low bits (mapped,
// compatible, NAT64) or in bits 16 to 48 (6to4): the IPv4 address is the
// one reached.
var (
	embedsLow = []netip.Prefix{netip.MustParsePrefix("::ffff:0:0/96"), netip.MustParsePrefix("::/96"),
		netip.MustParsePrefix("64:ff9b::/96")}
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// publicAddr reports whether a is reachable on the public internet.
func publicAddr(a netip.Addr) bool {
	if a.Zone() != "" {
		return false // only link-local addresses have zones
	}
	if a.Is6() {
		b := a.As16()
		for _, p := range embedsLow {
			if p.Contains(a) {
				return publicAddr(netip.AddrFrom4([4]byte(b[12:])))
			}
		}
		if sixToFour.Contains(a) {
			return publicAddr(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	for _, p := range nonPublicPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	return true
}
