package kapso

import "regexp"

// bsuidPattern is WhatsApp's business-scoped user ID: a country code, an
// optional ENT. for a parent ID, then 1–128 alphanumerics. It is compiled once
// and never changed, so sharing it is safe.
var bsuidPattern = regexp.MustCompile(`^[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}$`)

// IsBSUID reports whether s is a business-scoped user ID (for example
// US.13491208655302741918 or US.ENT.11815799212886844830). BSUIDs are kept
// verbatim: callers must not change their case.
func IsBSUID(s string) bool { return bsuidPattern.MatchString(s) }

// IsParentBSUID reports whether s is a parent (enterprise) BSUID.
func isParentBSUID(s string) bool {
	return IsBSUID(s) && len(s) > 7 && s[2:7] == ".ENT."
}
