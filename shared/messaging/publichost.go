package messaging

import "net/netip"

// PublicHost says what is wrong with a URL's host (as url.URL.Hostname
// gives it), or "" for a host on the public internet, by the rules a
// media link is held to (see checkMediaLink).
func PublicHost(host string) string { return publicHost(host) }

// PublicAddr reports whether a is reachable on the public internet: not
// loopback, private, link-local (cloud metadata services included) or
// otherwise special.
func PublicAddr(a netip.Addr) bool { return publicAddr(a) }
