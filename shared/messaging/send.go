package messaging

import "encoding/json"

// OutboundRequest is the body of a send request: one message to send from a
// tenant's number. It carries no HTTP or AWS concern; MetaMessage turns it
// into the Meta Cloud API message object Kapso's proxy forwards.
type OutboundRequest struct {
	PhoneNumberID string `json:"phone_number_id,omitempty"` // optional when the tenant has exactly one connected number
	To            string `json:"to,omitempty"`              // E.164 digits (a leading + accepted and dropped), 7..15 digits
	Recipient     string `json:"recipient,omitempty"`       // a BSUID instead of to
	Type          string `json:"type"`                      // one of the Out* type names
	OutContent
}

// OutContent is the message itself: the object of its type, the one set.
// The request and the Meta body both carry it.
type OutContent struct {
	Text        *OutText        `json:"text,omitempty"`
	Template    *OutTemplate    `json:"template,omitempty"`
	Image       *OutMedia       `json:"image,omitempty"`
	Document    *OutMedia       `json:"document,omitempty"`
	Audio       *OutMedia       `json:"audio,omitempty"`
	Video       *OutMedia       `json:"video,omitempty"`
	Interactive *OutInteractive `json:"interactive,omitempty"`
	Reaction    *OutReaction    `json:"reaction,omitempty"`
	Location    *OutLocation    `json:"location,omitempty"`
	Contacts    []OutContact    `json:"contacts,omitempty"`
}

// Message types a send request may carry.
const (
	OutTypeText        = "text"
	OutTypeTemplate    = "template"
	OutTypeImage       = "image"
	OutTypeDocument    = "document"
	OutTypeAudio       = "audio"
	OutTypeVideo       = "video"
	OutTypeInteractive = "interactive"
	OutTypeReaction    = "reaction"
	OutTypeLocation    = "location"
	OutTypeContacts    = "contacts"
)

// Interactive message types a send request may carry.
const (
	InteractiveButton = "button" // up to three reply buttons
	InteractiveList   = "list"   // a menu of rows in sections
)

// OutText is a text message.
type OutText struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url,omitempty"`
}

// OutTemplate is a template message. Components are passed to Meta as given
// (in canonical JSON form); only their size is bounded here.
type OutTemplate struct {
	Name       string               `json:"name"`
	Language   *OutTemplateLanguage `json:"language,omitempty"`
	Components json.RawMessage      `json:"components,omitempty"`
}

// OutTemplateLanguage is a template's language.
type OutTemplateLanguage struct {
	Policy string `json:"policy,omitempty"` // Meta accepts only "deterministic"
	Code   string `json:"code"`             // e.g. en_US, pt_BR, es
}

// OutMedia is an image, document, audio or video message: the media by
// exactly one of Link or ID.
type OutMedia struct {
	ID       string `json:"id,omitempty"`       // a media id from Meta's media upload
	Link     string `json:"link,omitempty"`     // an absolute https URL Meta downloads
	Caption  string `json:"caption,omitempty"`  // not for audio
	Filename string `json:"filename,omitempty"` // documents only
}

// OutInteractive is an interactive message: reply buttons or a list.
type OutInteractive struct {
	Type   string                `json:"type"`
	Header *OutInteractiveHeader `json:"header,omitempty"`
	Body   *OutInteractiveText   `json:"body,omitempty"`
	Footer *OutInteractiveText   `json:"footer,omitempty"`
	Action *OutInteractiveAction `json:"action,omitempty"`
}

// OutInteractiveHeader is an interactive message's header; only text
// headers are supported.
type OutInteractiveHeader struct {
	Type string `json:"type"` // "text"
	Text string `json:"text"`
}

// OutInteractiveText is an interactive message's body or footer.
type OutInteractiveText struct {
	Text string `json:"text"`
}

// OutInteractiveAction is what the person can do: Buttons for a button
// message, Button (the text of the button opening the list) and Sections
// for a list message.
type OutInteractiveAction struct {
	Button   string           `json:"button,omitempty"`
	Buttons  []OutReplyButton `json:"buttons,omitempty"`
	Sections []OutListSection `json:"sections,omitempty"`
}

// OutReplyButton is one reply button; Type is "reply" (filled in when
// omitted).
type OutReplyButton struct {
	Type  string    `json:"type"`
	Reply *OutReply `json:"reply,omitempty"`
}

// OutReply is a reply button's id and title.
type OutReply struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// OutListSection is a section of a list message.
type OutListSection struct {
	Title string       `json:"title,omitempty"`
	Rows  []OutListRow `json:"rows"`
}

// OutListRow is a row of a list message.
type OutListRow struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// OutReaction reacts to a message; an empty Emoji removes the reaction.
type OutReaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
}

// OutLocation is a location message. Latitude and longitude are pointers
// so that a missing coordinate is told apart from 0.
type OutLocation struct {
	Latitude  *float64 `json:"latitude,omitempty"`
	Longitude *float64 `json:"longitude,omitempty"`
	Name      string   `json:"name,omitempty"`
	Address   string   `json:"address,omitempty"`
}

// OutContact is one contact card of a contacts message.
type OutContact struct {
	Name      *OutContactName     `json:"name,omitempty"`
	Birthday  string              `json:"birthday,omitempty"` // YYYY-MM-DD
	Org       *OutContactOrg      `json:"org,omitempty"`
	Phones    []OutContactPhone   `json:"phones,omitempty"`
	Emails    []OutContactEmail   `json:"emails,omitempty"`
	URLs      []OutContactURL     `json:"urls,omitempty"`
	Addresses []OutContactAddress `json:"addresses,omitempty"`
}

// OutContactName is a contact's name; FormattedName is required.
type OutContactName struct {
	FormattedName string `json:"formatted_name"`
	FirstName     string `json:"first_name,omitempty"`
	LastName      string `json:"last_name,omitempty"`
	MiddleName    string `json:"middle_name,omitempty"`
	Suffix        string `json:"suffix,omitempty"`
	Prefix        string `json:"prefix,omitempty"`
}

// OutContactOrg is a contact's organisation.
type OutContactOrg struct {
	Company    string `json:"company,omitempty"`
	Department string `json:"department,omitempty"`
	Title      string `json:"title,omitempty"`
}

// OutContactPhone is a contact's phone number.
type OutContactPhone struct {
	Phone string `json:"phone"`
	Type  string `json:"type,omitempty"`
	WaID  string `json:"wa_id,omitempty"`
}

// OutContactEmail is a contact's email address.
type OutContactEmail struct {
	Email string `json:"email"`
	Type  string `json:"type,omitempty"`
}

// OutContactURL is a contact's web address.
type OutContactURL struct {
	URL  string `json:"url"`
	Type string `json:"type,omitempty"`
}

// OutContactAddress is a contact's postal address.
type OutContactAddress struct {
	Street      string `json:"street,omitempty"`
	City        string `json:"city,omitempty"`
	State       string `json:"state,omitempty"`
	Zip         string `json:"zip,omitempty"`
	Country     string `json:"country,omitempty"`
	CountryCode string `json:"country_code,omitempty"`
	Type        string `json:"type,omitempty"`
}

// FreeForm is false only for templates: free-form messages may be sent only
// within 24 hours of the person's last inbound message (the customer
// service window); outside it Meta answers 131047.
func (r OutboundRequest) FreeForm() bool { return r.Type != OutTypeTemplate }
