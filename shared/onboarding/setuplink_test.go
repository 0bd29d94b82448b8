package onboarding

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

func TestSetupLinkRequestValidate(t *testing.T) {
	yes, no := true, false
	lang := func(s string) *string { return &s }
	tests := []struct {
		name      string
		req       SetupLinkRequest
		wantField string // empty: valid
	}{
		{"empty request takes Kapso's defaults", SetupLinkRequest{}, ""},
		{"everything set", SetupLinkRequest{
			TenantName: "Açaí & Co", AllowedConnectionTypes: []string{"dedicated", "coexistence"},
			ProvisionPhoneNumber: &yes, PhoneNumberAreaCode: "415", PhoneNumberCountryISOs: []string{"US", "BR"},
			Language: lang("pt"), ThemeConfig: map[string]string{"primary_color": "#1A2b3C", "destructive_foreground_color": "#ffffff"},
		}, ""},
		{"tenant name of 200 characters", SetupLinkRequest{TenantName: strings.Repeat("é", 200)}, ""},
		{"tenant name too long", SetupLinkRequest{TenantName: strings.Repeat("a", 201)}, "tenant_name"},
		{"tenant name not UTF-8", SetupLinkRequest{TenantName: "\xff"}, "tenant_name"},
		{"tenant name with NUL", SetupLinkRequest{TenantName: "Acme\x00"}, "tenant_name"},
		{"tenant name with ESC", SetupLinkRequest{TenantName: "\x1b[31mAcme"}, "tenant_name"},
		{"tenant name with CR LF", SetupLinkRequest{TenantName: "Acme\r\nX-Injected: 1"}, "tenant_name"},
		{"tenant name with a tab", SetupLinkRequest{TenantName: "Acme\tInc"}, "tenant_name"},
		{"tenant name with DEL", SetupLinkRequest{TenantName: "Acme\x7f"}, "tenant_name"},
		{"tenant name with a C1 control", SetupLinkRequest{TenantName: "Acme\u0085"}, "tenant_name"},
		{"tenant name of 200 characters between spaces", SetupLinkRequest{TenantName: "  " + strings.Repeat("a", 200) + "\u00a0 "}, ""},
		{"tenant name with spaces, accents and emoji", SetupLinkRequest{TenantName: "Padaria São João 🥖"}, ""},

		{"one connection type", SetupLinkRequest{AllowedConnectionTypes: []string{"coexistence"}}, ""},
		{"empty connection types", SetupLinkRequest{AllowedConnectionTypes: []string{}}, "allowed_connection_types"},
		{"unknown connection type", SetupLinkRequest{AllowedConnectionTypes: []string{"shared"}}, "allowed_connection_types"},
		{"connection type in another case", SetupLinkRequest{AllowedConnectionTypes: []string{"Dedicated"}}, "allowed_connection_types"},
		{"duplicate connection type", SetupLinkRequest{AllowedConnectionTypes: []string{"dedicated", "dedicated"}}, "allowed_connection_types"},

		{"area code with default country", SetupLinkRequest{PhoneNumberAreaCode: "212"}, ""},
		{"area code of two digits", SetupLinkRequest{PhoneNumberAreaCode: "21"}, "phone_number_area_code"},
		{"area code with a letter", SetupLinkRequest{PhoneNumberAreaCode: "2a2"}, "phone_number_area_code"},
		{"area code without US", SetupLinkRequest{PhoneNumberAreaCode: "212", PhoneNumberCountryISOs: []string{"BR"}}, "phone_number_area_code"},

		{"ten countries", SetupLinkRequest{PhoneNumberCountryISOs: []string{"US", "BR", "MX", "AR", "CL", "CO", "PE", "ES", "PT", "GB"}}, ""},
		{"eleven countries", SetupLinkRequest{PhoneNumberCountryISOs: []string{"US", "BR", "MX", "AR", "CL", "CO", "PE", "ES", "PT", "GB", "FR"}}, "phone_number_country_isos"},
		{"empty countries", SetupLinkRequest{PhoneNumberCountryISOs: []string{}}, "phone_number_country_isos"},
		{"lowercase country", SetupLinkRequest{PhoneNumberCountryISOs: []string{"us"}}, "phone_number_country_isos"},
		{"three-letter country", SetupLinkRequest{PhoneNumberCountryISOs: []string{"USA"}}, "phone_number_country_isos"},
		{"duplicate country", SetupLinkRequest{PhoneNumberCountryISOs: []string{"US", "US"}}, "phone_number_country_isos"},

		{"each documented language", SetupLinkRequest{Language: lang("ar")}, ""},
		{"unknown language", SetupLinkRequest{Language: lang("fr")}, "language"},
		{"empty language", SetupLinkRequest{Language: lang("")}, "language"},
		{"language tag with region", SetupLinkRequest{Language: lang("pt-BR")}, "language"},

		{"unknown theme key", SetupLinkRequest{ThemeConfig: map[string]string{"font": "#000000"}}, "theme_config.font"},
		{"short colour", SetupLinkRequest{ThemeConfig: map[string]string{"text_color": "#fff"}}, "theme_config.text_color"},
		{"colour without #", SetupLinkRequest{ThemeConfig: map[string]string{"card_color": "ffffff"}}, "theme_config.card_color"},
		{"colour not hex", SetupLinkRequest{ThemeConfig: map[string]string{"border_color": "#ggggGG"}}, "theme_config.border_color"},
		{"first bad theme key reported in order", SetupLinkRequest{ThemeConfig: map[string]string{"zz": "#000000", "aa": "#000000"}}, "theme_config.aa"},

		{"reconnect with provisioning unset", SetupLinkRequest{ReconnectPhoneNumber: "+5511987654321"}, ""},
		{"reconnect with provisioning off", SetupLinkRequest{ReconnectPhoneNumber: "+15551234567", ProvisionPhoneNumber: &no}, ""},
		{"reconnect with provisioning on", SetupLinkRequest{ReconnectPhoneNumber: "+15551234567", ProvisionPhoneNumber: &yes}, "provision_phone_number"},
		{"reconnect without plus", SetupLinkRequest{ReconnectPhoneNumber: "15551234567"}, "reconnect_phone_number"},
		{"reconnect starting with 0", SetupLinkRequest{ReconnectPhoneNumber: "+05551234567"}, "reconnect_phone_number"},
		{"reconnect too short", SetupLinkRequest{ReconnectPhoneNumber: "+123456"}, "reconnect_phone_number"},
		{"reconnect of 15 digits", SetupLinkRequest{ReconnectPhoneNumber: "+123456789012345"}, ""},
		{"reconnect of 16 digits", SetupLinkRequest{ReconnectPhoneNumber: "+1234567890123456"}, "reconnect_phone_number"},
		{"reconnect with spaces", SetupLinkRequest{ReconnectPhoneNumber: "+1 555 123 4567"}, "reconnect_phone_number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var fieldErr *errs.FieldError
			if !errors.As(err, &fieldErr) {
				t.Fatalf("Validate() = %v, want a *FieldError for %s", err, tt.wantField)
			}
			if fieldErr.Field != tt.wantField || fieldErr.Message == "" {
				t.Errorf("field error = %+v, want field %s with a message", fieldErr, tt.wantField)
			}
			if !strings.HasPrefix(err.Error(), tt.wantField+": ") {
				t.Errorf("error text %q does not start with the field", err.Error())
			}
		})
	}
}

func TestValidTenantID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"t", true},
		{"tenant-42", true},
		{"org:acme.eu_west-1", true},
		{"plus+sign", false},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"", false},
		{"has space", false},
		{"slash/inside", false},
		{"hash#inside", false},
		{"ação", false},
		{"new\nline", false},
		{".", false},
		{"..", false},
		{"...", false},
		{".hidden", false},
		{"-option", false},
		{":colon", false},
		{"_under", false},
		{"9lives", true},
		{"a..b", true},
		{"a.", true},
	}
	for _, tt := range tests {
		if got := ValidTenantID(tt.id); got != tt.want {
			t.Errorf("ValidTenantID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestTenantIDPatternIsValidTenantID(t *testing.T) {
	re := regexp.MustCompile(TenantIDPattern)
	for _, id := range []string{"t", "tenant-42", "org:acme.eu_west-1", ".", "..", ".x", "-x", "_x", "a/b", "a b", "ação", "",
		strings.Repeat("a", 128), strings.Repeat("a", 129), "a\n", "Z9._:-"} {
		if got, want := ValidTenantID(id), re.MatchString(id); got != want {
			t.Errorf("ValidTenantID(%q) = %v, the pattern says %v", id, got, want)
		}
	}
}

func TestSetupLinkRequestName(t *testing.T) {
	for in, want := range map[string]string{"": "", "   ": "", " Acme Inc ": "Acme Inc", "\u00a0Açaí\u2003": "Açaí"} {
		if got := (SetupLinkRequest{TenantName: in}).Name(); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
}
