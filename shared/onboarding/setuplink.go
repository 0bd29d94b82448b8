package onboarding

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// SetupLinkRequest is the body the SaaS backend sends to ask for a setup
// link. Omitted fields take Kapso's defaults; Validate rejects what Kapso
// would answer with a 422, naming the field, before any call is made.
type SetupLinkRequest struct {
	TenantName             string            `json:"tenant_name,omitempty"`
	AllowedConnectionTypes []string          `json:"allowed_connection_types,omitempty"`
	ProvisionPhoneNumber   *bool             `json:"provision_phone_number,omitempty"`
	PhoneNumberAreaCode    string            `json:"phone_number_area_code,omitempty"`
	PhoneNumberCountryISOs []string          `json:"phone_number_country_isos,omitempty"`
	Language               *string           `json:"language,omitempty"`
	ThemeConfig            map[string]string `json:"theme_config,omitempty"`
	ReconnectPhoneNumber   string            `json:"reconnect_phone_number,omitempty"`
}

// Limits of a setup link request.
const (
	MaxTenantNameChars = 200
	MaxCountryISOs     = 10
	MaxTenantIDChars   = 128
)

// Validate checks the request and returns the first problem as a *errs.FieldError.
func (r SetupLinkRequest) Validate() error {
	checks := []func() *errs.FieldError{
		r.checkTenantName,
		r.checkConnectionTypes,
		r.checkCountryISOs,
		r.checkAreaCode,
		r.checkLanguage,
		r.checkThemeConfig,
		r.checkReconnect,
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// checkTenantName: the name is shown to people at Kapso and in logs, so no
// control character (C0, DEL, C1: line breaks, escapes, NUL) gets through;
// the bound is on the name as kept, without surrounding white space.
func (r SetupLinkRequest) checkTenantName() *errs.FieldError {
	const field = "tenant_name"
	if !utf8.ValidString(r.TenantName) {
		return errs.Field(field, "must be valid UTF-8")
	}
	for i, c := range []rune(r.TenantName) {
		if unicode.IsControl(c) {
			return errs.Field(field, fmt.Sprintf("must not contain control characters (U+%04X at character %d)", c, i+1))
		}
	}
	if n := utf8.RuneCountInString(r.Name()); n > MaxTenantNameChars {
		return errs.Field(field, fmt.Sprintf("must be at most %d characters, got %d", MaxTenantNameChars, n))
	}
	return nil
}

// Name is the tenant name as kept: TenantName without surrounding white
// space. "" (omitted, empty or blank) leaves the name to the tenant id.
func (r SetupLinkRequest) Name() string { return strings.TrimSpace(r.TenantName) }

// checkConnectionTypes: omitted means Kapso's default (both); present
// means a non-empty set of known types.
func (r SetupLinkRequest) checkConnectionTypes() *errs.FieldError {
	if r.AllowedConnectionTypes == nil {
		return nil
	}
	const field = "allowed_connection_types"
	if len(r.AllowedConnectionTypes) == 0 {
		return errs.Field(field, "must not be empty; omit it to allow both")
	}
	for i, t := range r.AllowedConnectionTypes {
		if t != string(ConnectionDedicated) && t != string(ConnectionCoexistence) {
			return errs.Field(field, fmt.Sprintf("%q is not one of coexistence, dedicated", t))
		}
		if slices.Contains(r.AllowedConnectionTypes[:i], t) {
			return errs.Field(field, fmt.Sprintf("%q is listed twice", t))
		}
	}
	return nil
}

func (r SetupLinkRequest) checkCountryISOs() *errs.FieldError {
	if r.PhoneNumberCountryISOs == nil {
		return nil
	}
	const field = "phone_number_country_isos"
	if n := len(r.PhoneNumberCountryISOs); n == 0 || n > MaxCountryISOs {
		return errs.Field(field, fmt.Sprintf("must list 1 to %d countries, got %d", MaxCountryISOs, n))
	}
	for i, iso := range r.PhoneNumberCountryISOs {
		if len(iso) != 2 || !allBytes(iso, isUpperASCII) {
			return errs.Field(field, fmt.Sprintf("%q is not a two-letter uppercase country code", iso))
		}
		if slices.Contains(r.PhoneNumberCountryISOs[:i], iso) {
			return errs.Field(field, fmt.Sprintf("%q is listed twice", iso))
		}
	}
	return nil
}

// checkAreaCode: Kapso provisions by area code in the US only, and the
// country list defaults to US when omitted.
func (r SetupLinkRequest) checkAreaCode() *errs.FieldError {
	if r.PhoneNumberAreaCode == "" {
		return nil
	}
	const field = "phone_number_area_code"
	if len(r.PhoneNumberAreaCode) != 3 || !allBytes(r.PhoneNumberAreaCode, isDigitASCII) {
		return errs.Field(field, "must be 3 digits")
	}
	if r.PhoneNumberCountryISOs != nil && !slices.Contains(r.PhoneNumberCountryISOs, "US") {
		return errs.Field(field, "is only allowed when phone_number_country_isos includes US")
	}
	return nil
}

func (r SetupLinkRequest) checkLanguage() *errs.FieldError {
	if r.Language == nil {
		return nil
	}
	switch *r.Language {
	case "en", "es", "pt", "hi", "id", "ar":
		return nil
	}
	return errs.Field("language", fmt.Sprintf("%q is not one of en, es, pt, hi, id, ar", *r.Language))
}

func (r SetupLinkRequest) checkThemeConfig() *errs.FieldError {
	keys := make([]string, 0, len(r.ThemeConfig))
	for key := range r.ThemeConfig {
		keys = append(keys, key)
	}
	slices.Sort(keys) // the same request always reports the same field
	for _, key := range keys {
		field := "theme_config." + key
		if !isThemeKey(key) {
			return errs.Field(field, "is not a theme colour Kapso knows")
		}
		if !isHexColour(r.ThemeConfig[key]) {
			return errs.Field(field, fmt.Sprintf("%q is not a #RRGGBB colour", r.ThemeConfig[key]))
		}
	}
	return nil
}

// checkReconnect: Kapso answers 422 when a reconnect also asks to provision.
func (r SetupLinkRequest) checkReconnect() *errs.FieldError {
	if r.ReconnectPhoneNumber == "" {
		return nil
	}
	if !isE164(r.ReconnectPhoneNumber) {
		return errs.Field("reconnect_phone_number", "must be an E.164 number such as +15551234567")
	}
	if r.ProvisionPhoneNumber != nil && *r.ProvisionPhoneNumber {
		return errs.Field("provision_phone_number", "must not be true when reconnect_phone_number is set")
	}
	return nil
}

// isThemeKey lists the theme_config colours of Kapso's setup page.
func isThemeKey(key string) bool {
	switch key {
	case "primary_color", "primary_foreground_color", "background_color", "text_color",
		"muted_text_color", "card_color", "muted_color", "border_color", "secondary_color",
		"secondary_foreground_color", "destructive_color", "destructive_foreground_color":
		return true
	}
	return false
}

func isHexColour(s string) bool {
	return len(s) == 7 && s[0] == '#' && allBytes(s[1:], isHexASCII)
}

// isE164 matches ^\+[1-9][0-9]{6,14}$.
func isE164(s string) bool {
	digits, ok := strings.CutPrefix(s, "+")
	return ok && len(digits) >= 7 && len(digits) <= 15 && digits[0] != '0' && allBytes(digits, isDigitASCII)
}

// TenantIDPattern is the rule ValidTenantID applies, as a regular expression.
const TenantIDPattern = `^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`

// ValidTenantID reports whether id matches TenantIDPattern: 1 to 128
// characters of A-Z a-z 0-9 . _ : -, the first a letter or digit. The SaaS
// chooses it; it ends up in keys, URL paths and Kapso's
// external_customer_id, so "." and ".." (a path's dot segments, also when
// sent as %2e%2e) and names starting like an option or a hidden file are
// refused.
func ValidTenantID(id string) bool {
	return len(id) >= 1 && len(id) <= MaxTenantIDChars && isAlnumASCII(id[0]) && allBytes(id, func(b byte) bool {
		return isAlnumASCII(b) || strings.IndexByte("._:-", b) >= 0
	})
}

func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isDigitASCII(b byte) bool { return '0' <= b && b <= '9' }
func isUpperASCII(b byte) bool { return 'A' <= b && b <= 'Z' }
func isAlnumASCII(b byte) bool {
	return isDigitASCII(b) || isUpperASCII(b) || ('a' <= b && b <= 'z')
}
func isHexASCII(b byte) bool {
	return isDigitASCII(b) || ('a' <= b && b <= 'f') || ('A' <= b && b <= 'F')
}
