package onboarding

import (
	"fmt"
	"slices"
	"strings"
)

// ErrorCode explains a code a support person meets: a failure redirect's
// error_code, or the reason a number was disconnected, deleted, offboarded,
// restricted or disabled.
type ErrorCode struct {
	Code string
	// Meaning says in plain words what happened.
	Meaning string
	// NextStep says what the SaaS's support person should do about it.
	NextStep string
}

// Codes kapso-bridge itself puts on a failure: a failure redirect without a
// readable code, and a redirect naming a link it does not know.
const (
	CodeUnknown          = "unknown"
	CodeUnknownSetupLink = "unknown_setup_link"
)

// errorCodes is the one list DescribeError, ErrorCodes and the table of
// docs/operations.md come from (a test keeps the table in step).
var errorCodes = []ErrorCode{
	// Kapso's failure redirect codes (KAPSO.md §6).
	{"facebook_auth_failed",
		"The customer did not finish logging in to Facebook, or Facebook refused the login (pop-up closed or blocked, another account, permissions declined).",
		"Ask the customer to open the active setup link again, allow pop-ups, log in with the Facebook account that administers their business and accept every permission asked."},
	{"phone_verification_failed",
		"Meta could not verify the phone number: the SMS or voice code did not arrive or was entered wrong, or the number cannot receive codes.",
		"Ask the customer to check the number can receive an SMS or a call (a number used in the WhatsApp Business app needs the coexistence option), then try the active link again."},
	{"waba_limit_reached",
		"The customer's Meta business already has as many WhatsApp Business Accounts or phone numbers as Meta allows it.",
		"Ask the customer to pick an existing WhatsApp Business Account during signup, or remove an unused account or number in Meta Business Suite, then try again."},
	{"token_exchange_failed",
		"Meta signup finished but Kapso could not exchange Meta's authorisation for an access token; usually temporary.",
		"Ask the customer to try the active link again in a few minutes; if it fails again, contact Kapso support with the setup link id."},
	{"link_expired",
		"The setup link had expired, or Kapso revoked it because a newer link was created for the tenant.",
		"Send the customer the tenant's active setup link, or create a new one if none is active."},
	{"already_used",
		"The setup link was already used to connect a number; a link works once.",
		"Check the tenant's numbers: the number is probably connected already. To connect another number, create a new setup link."},
	// kapso-bridge's own codes.
	{CodeUnknown,
		"The failure redirect carried no error code kapso-bridge could read.",
		"Ask the customer what the signup page showed, and let them try the active link again."},
	{CodeUnknownSetupLink,
		"The browser came back with a setup link id kapso-bridge does not know (a mistyped or forged address); nothing was recorded.",
		"Send the customer the tenant's active setup link."},
	// Reasons of lifecycle events (events/kapso samples, Meta's restriction types).
	{"meta_token_expired",
		"Meta's access for the number expired or was withdrawn (password change, app removed, admin rights lost); the number is disconnected.",
		"Create a setup link with reconnect_phone_number set to the number and ask the customer to sign up again; messages resume once it reconnects."},
	{"deleted_by_user",
		"The number was deleted from its WhatsApp Business Account.",
		"If the customer still wants WhatsApp, create a new setup link and connect a number again."},
	{"customer_offboarded",
		"The number was offboarded: removed from Kapso for this customer.",
		"Check with the customer whether they left on purpose; to come back, create a new setup link."},
	{"ACCOUNT_DISABLED",
		"Meta disabled the WhatsApp Business Account, usually for a policy violation; nothing can be sent or received until Meta reinstates it.",
		"Ask the customer to request a review under Account quality in Meta Business Suite; a new signup on the same account does not help."},
	{"RESTRICTED_ADD_PHONE_NUMBER_ACTION",
		"Meta stopped the account from adding phone numbers; numbers already connected keep working.",
		"Ask the customer to check Account quality in Meta Business Suite and appeal; do not connect more numbers on this account meanwhile."},
	{"RESTRICTED_BIZ_INITIATED_MESSAGING",
		"Meta stopped the account from starting conversations; it can still receive messages and answer them.",
		"Ask the customer to check Account quality in Meta Business Suite and appeal; until then only replies get through."},
	{"RESTRICTED_CUSTOMER_INITIATED_MESSAGING",
		"Meta stopped the account from answering conversations customers start.",
		"Ask the customer to check Account quality in Meta Business Suite and appeal."},
}

// ErrorCodes lists every code DescribeError knows, in the table's order.
func ErrorCodes() []ErrorCode { return slices.Clone(errorCodes) }

// DescribeError explains a code; Meta's upper-case reasons match in any
// case. A code it does not know gets a generic meaning and next step that
// name it; an empty code means nothing went wrong.
func DescribeError(code string) ErrorCode {
	if code == "" {
		return ErrorCode{Meaning: "No error was reported."}
	}
	if e, ok := KnownError(code); ok {
		return e
	}
	return ErrorCode{Code: code,
		Meaning: fmt.Sprintf("Kapso reported %q; it is not documented, so kapso-bridge cannot say more.", code),
		NextStep: "Ask the customer what the signup page or Meta showed; if it happens again, contact Kapso support " +
			"with the setup link id and this code."}
}

// KnownError finds a documented code. A reason that is free text (one the
// reconciler wrote, say) is not one: show it as it is.
func KnownError(code string) (ErrorCode, bool) {
	i := slices.IndexFunc(errorCodes, func(e ErrorCode) bool { return strings.EqualFold(e.Code, code) })
	if i < 0 || code == "" {
		return ErrorCode{}, false
	}
	return errorCodes[i], true
}
