package meta

import "github.com/kapso-bridge/kapso-bridge/shared/rawjson"

// The readers below decode the types of types.go field by field. They are
// what every event of a delivery goes through, and several times faster
// than reflection; TestReadersMatchEncodingJSON and FuzzReaders hold them to
// json.Unmarshal's results on the same input, so a field added to a type
// must be added here too (the test fails until it is).

func readMetadata(d *rawjson.Decoder, m *Metadata) {
	if !d.BeginObject("meta.Metadata") {
		return
	}
	for k, ok := d.Field(); ok; k, ok = d.Field() {
		switch string(k) {
		case "display_phone_number":
			d.String(&m.DisplayPhoneNumber)
		case "phone_number_id":
			d.String(&m.PhoneNumberID)
		default:
			d.Skip()
		}
	}
}

func readProfile(d *rawjson.Decoder, p *Profile) {
	if !d.BeginObject("meta.Profile") {
		return
	}
	for k, ok := d.Field(); ok; k, ok = d.Field() {
		switch string(k) {
		case "name":
			d.String(&p.Name)
		case "username":
			d.String(&p.Username)
		case "country_code":
			d.String(&p.CountryCode)
		default:
			d.Skip()
		}
	}
}

func readContact(d *rawjson.Decoder, c *Contact) {
	if !d.BeginObject("meta.Contact") {
		return
	}
	for k, ok := d.Field(); ok; k, ok = d.Field() {
		switch string(k) {
		case "profile":
			readProfile(d, &c.Profile)
		case "wa_id":
			d.String(&c.WaID)
		case "user_id":
			d.String(&c.UserID)
		case "parent_user_id":
			d.String(&c.ParentUserID)
		default:
			d.Skip()
		}
	}
}

func readError(d *rawjson.Decoder, e *Error) {
	if !d.BeginObject("meta.Error") {
		return
	}
	for k, ok := d.Field(); ok; k, ok = d.Field() {
		switch string(k) {
		case "code":
			d.Int(&e.Code)
		case "title":
			d.String(&e.Title)
		case "message":
			d.String(&e.Message)
		case "error_data":
			if rawjson.Ptr(d, &e.ErrorData) {
				readErrorData(d, e.ErrorData)
			}
		case "href":
			d.String(&e.Href)
		default:
			d.Skip()
		}
	}
}

func readErrorData(d *rawjson.Decoder, e *ErrorData) {
	if !d.BeginObject("meta.ErrorData") {
		return
	}
	for k, ok := d.Field(); ok; k, ok = d.Field() {
		if string(k) == "details" {
			d.String(&e.Details)
		} else {
			d.Skip()
		}
	}
}

// readErrors decodes an array of errors into *dst, reusing its elements as
// encoding/json does.
func readErrors(d *rawjson.Decoder, dst *[]Error) {
	if d.Null() {
		*dst = nil
		return
	}
	if !d.BeginArray("[]meta.Error") {
		return
	}
	s, n := *dst, 0
	for d.NextElem() {
		s = rawjson.Grow(s, n)
		readError(d, &s[n])
		n++
	}
	*dst = rawjson.Trim(s, n)
}

func readText(d *rawjson.Decoder, t *Text) {
	if !d.BeginObject("meta.Text") {
		return
	}
	for k, ok := d.Field(); ok; k, ok = d.Field() {
		if string(k) == "body" {
			d.String(&t.Body)
		} else {
			d.Skip()
		}
	}
}

func readReaction(d *rawjson.Decoder, r *Reaction) {
	if !d.BeginObject("meta.Reaction") {
		return
	}
	for k, ok := d.Field(); ok; k, ok = d.Field() {
		switch string(k) {
		case "message_id":
			d.String(&r.MessageID)
		case "emoji":
			d.StringPtr(&r.Emoji)
		default:
			d.Skip()
		}
	}
}

func readContext(d *rawjson.Decoder, c *Context) {
	if !d.BeginObject("meta.Context") {
		return
	}
	for k, ok := d.Field(); ok; k, ok = d.Field() {
		switch string(k) {
		case "from":
			d.String(&c.From)
		case "id":
			d.String(&c.ID)
		case "forwarded":
			d.Bool(&c.Forwarded)
		case "frequently_forwarded":
			d.Bool(&c.FrequentlyForwarded)
		default:
			d.Skip()
		}
	}
}

func readSystem(d *rawjson.Decoder, s *System) {
	if !d.BeginObject("meta.System") {
		return
	}
	for k, ok := d.Field(); ok; k, ok = d.Field() {
		switch string(k) {
		case "body":
			d.String(&s.Body)
		case "type":
			d.String(&s.Type)
		case "new_wa_id":
			d.String(&s.NewWaID)
		case "wa_id":
			d.String(&s.WaID)
		case "customer":
			d.String(&s.Customer)
		case "user_id":
			d.String(&s.UserID)
		case "parent_user_id":
			d.String(&s.ParentUserID)
		case "previous_user_id":
			d.String(&s.PreviousUserID)
		case "previous_parent_user_id":
			d.String(&s.PreviousParentUserID)
		default:
			d.Skip()
		}
	}
}

func readMessage(d *rawjson.Decoder, m *Message) {
	if !d.BeginObject("meta.Message") {
		return
	}
	for k, ok := d.Field(); ok; k, ok = d.Field() {
		if !ReadMessageField(d, m, k) {
			d.Skip()
		}
	}
}

// ReadMessageField decodes the value of a message object's member whose key
// (as Decoder.Field returns it) is key into m, and reports whether key is
// one of Message's fields; when it is not, the value is left unread. It is
// exported for the readers of formats that extend Meta's message (Kapso's).
func ReadMessageField(d *rawjson.Decoder, m *Message, key []byte) bool {
	switch string(key) {
	case "from":
		d.String(&m.From)
	case "from_user_id":
		d.String(&m.FromUserID)
	case "from_parent_user_id":
		d.String(&m.FromParentUserID)
	case "id":
		d.String(&m.ID)
	case "timestamp":
		d.String(&m.Timestamp)
	case "type":
		d.String(&m.Type)
	case "text":
		if rawjson.Ptr(d, &m.Text) {
			readText(d, m.Text)
		}
	case "reaction":
		if rawjson.Ptr(d, &m.Reaction) {
			readReaction(d, m.Reaction)
		}
	case "context":
		if rawjson.Ptr(d, &m.Context) {
			readContext(d, m.Context)
		}
	case "system":
		if rawjson.Ptr(d, &m.System) {
			readSystem(d, m.System)
		}
	case "errors":
		readErrors(d, &m.Errors)
	case "image":
		d.Raw(&m.Image)
	case "video":
		d.Raw(&m.Video)
	case "audio":
		d.Raw(&m.Audio)
	case "document":
		d.Raw(&m.Document)
	case "sticker":
		d.Raw(&m.Sticker)
	case "location":
		d.Raw(&m.Location)
	case "contacts":
		d.Raw(&m.Contacts)
	case "interactive":
		d.Raw(&m.Interactive)
	case "button":
		d.Raw(&m.Button)
	case "template":
		d.Raw(&m.Template)
	case "order":
		d.Raw(&m.Order)
	case "referral":
		d.Raw(&m.Referral)
	default:
		return false
	}
	return true
}

func readPricing(d *rawjson.Decoder, p *Pricing) {
	if !d.BeginObject("meta.Pricing") {
		return
	}
	for k, ok := d.Field(); ok; k, ok = d.Field() {
		switch string(k) {
		case "billable":
			d.BoolPtr(&p.Billable)
		case "pricing_model":
			d.String(&p.PricingModel)
		case "category":
			d.String(&p.Category)
		case "type":
			d.String(&p.Type)
		default:
			d.Skip()
		}
	}
}

// ReadStatus decodes one status object from d. It is exported for the
// readers of formats that carry Meta's statuses (Kapso's messages).
func ReadStatus(d *rawjson.Decoder, s *Status) {
	if !d.BeginObject("meta.Status") {
		return
	}
	for k, ok := d.Field(); ok; k, ok = d.Field() {
		switch string(k) {
		case "id":
			d.String(&s.ID)
		case "status":
			d.String(&s.Status)
		case "timestamp":
			d.String(&s.Timestamp)
		case "recipient_id":
			d.String(&s.RecipientID)
		case "recipient_user_id":
			d.String(&s.RecipientUserID)
		case "recipient_parent_user_id":
			d.String(&s.RecipientParentUserID)
		case "biz_opaque_callback_data":
			d.String(&s.BizOpaqueCallbackData)
		case "pricing":
			if rawjson.Ptr(d, &s.Pricing) {
				readPricing(d, s.Pricing)
			}
		case "conversation":
			d.Raw(&s.Conversation)
		case "errors":
			readErrors(d, &s.Errors)
		default:
			d.Skip()
		}
	}
}
