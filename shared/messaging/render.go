package messaging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/kapso-bridge/kapso-bridge/shared/meta"
)

// render sets msg's Text, Media and Reaction from the message's
// type-specific object. Renderings are short and plain: they make a message
// listable as one line, they are not a faithful copy (the raw event is kept
// elsewhere for that).
func render(msg *Message, m meta.Message) error {
	if err := renderType(msg, m); err != nil {
		return err
	}
	// The bare type says nothing the type does not: any text another copy
	// carries wins over it.
	msg.TextRendered = m.Type != "text" && msg.Text == "["+m.Type+"]"
	return nil
}

func renderType(msg *Message, m meta.Message) error {
	switch m.Type {
	case "text":
		if m.Text != nil {
			msg.Text = m.Text.Body
		}
	case "image", "video", "audio", "document", "sticker":
		raw := map[string]json.RawMessage{
			"image": m.Image, "video": m.Video, "audio": m.Audio,
			"document": m.Document, "sticker": m.Sticker,
		}[m.Type]
		media, err := decodeMedia(raw)
		if err != nil {
			return err
		}
		msg.Media = media
		msg.Text = "[" + m.Type + "]"
		if media != nil {
			switch {
			case media.Caption != "":
				msg.Text = media.Caption
			case media.Filename != "":
				msg.Text = "[" + m.Type + "] " + media.Filename
			}
		}
	case "reaction":
		r := Reaction{Removed: m.IsReactionRemoval()}
		if m.Reaction != nil {
			r.MessageID = m.Reaction.MessageID
			if !r.Removed {
				r.Emoji = *m.Reaction.Emoji
			}
		}
		msg.Reaction = &r
		msg.Text = "Reacted " + r.Emoji
		if r.Removed {
			msg.Text = "Removed a reaction"
		}
	case "location":
		return renderLocation(msg, m.Location)
	case "contacts":
		return renderContacts(msg, m.Contacts)
	case "interactive":
		return renderInteractive(msg, m.Interactive)
	case "button":
		var b struct {
			Text    string `json:"text"`
			Payload string `json:"payload"`
		}
		if err := decode(m.Button, &b); err != nil {
			return err
		}
		msg.Text = first(b.Text, b.Payload, "[button]")
	case "template":
		t, err := decodeTemplate(m.Template)
		if err != nil {
			return err
		}
		msg.Template = t
		msg.Text = "[template]"
		if t != nil && t.Name != "" {
			msg.Text = "[template " + t.Name + "]"
		}
	case "order":
		return renderOrder(msg, m.Order)
	case "system":
		msg.Text = "[system]"
		if m.System != nil {
			msg.Text = first(m.System.Body, "["+m.System.Type+"]")
		}
	default:
		msg.Text = "[" + msg.Type + "]"
		if len(m.Errors) > 0 && m.Errors[0].Title != "" {
			msg.Text = "[" + msg.Type + ": " + m.Errors[0].Title + "]"
		}
	}
	return nil
}

// decode reads an optional type-specific object; absent or null is fine.
func decode(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

func decodeMedia(raw json.RawMessage) (*Media, error) {
	var m struct {
		ID       string `json:"id"`
		Link     string `json:"link"`
		URL      string `json:"url"`
		MIMEType string `json:"mime_type"`
		Caption  string `json:"caption"`
		Filename string `json:"filename"`
	}
	if err := decode(raw, &m); err != nil {
		return nil, err
	}
	media := Media{ID: m.ID, URL: first(m.URL, m.Link), MIMEType: m.MIMEType, Caption: m.Caption, Filename: m.Filename}
	if media == (Media{}) {
		return nil, nil
	}
	return &media, nil
}

// decodeTemplate reads a template object: its name, its language (Meta's
// {"code":…} or a plain code) and its components, kept as compact JSON.
func decodeTemplate(raw json.RawMessage) (*Template, error) {
	var t struct {
		Name       string          `json:"name"`
		Language   json.RawMessage `json:"language"`
		Components json.RawMessage `json:"components"`
	}
	if err := decode(raw, &t); err != nil {
		return nil, err
	}
	out := Template{Name: t.Name}
	var lang struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(t.Language, &out.Language) != nil && json.Unmarshal(t.Language, &lang) == nil {
		out.Language = lang.Code
	}
	var c bytes.Buffer
	if len(t.Components) > 0 && t.Components[0] == '[' && json.Compact(&c, t.Components) == nil {
		out.Components = c.String()
	}
	if out == (Template{}) {
		return nil, nil
	}
	return &out, nil
}

func renderLocation(msg *Message, raw json.RawMessage) error {
	var l struct {
		Latitude  *float64 `json:"latitude"`
		Longitude *float64 `json:"longitude"`
		Name      string   `json:"name"`
		Address   string   `json:"address"`
	}
	if err := decode(raw, &l); err != nil {
		return err
	}
	parts := []string{}
	for _, s := range []string{l.Name, l.Address} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if l.Latitude != nil && l.Longitude != nil {
		parts = append(parts, fmt.Sprintf("(%g, %g)", *l.Latitude, *l.Longitude))
	}
	msg.Text = strings.TrimSpace("[location] " + strings.Join(parts, " "))
	return nil
}

func renderContacts(msg *Message, raw json.RawMessage) error {
	var cs []struct {
		Name struct {
			FormattedName string `json:"formatted_name"`
			FirstName     string `json:"first_name"`
		} `json:"name"`
	}
	if err := decode(raw, &cs); err != nil {
		return err
	}
	names := []string{}
	for _, c := range cs {
		if n := first(c.Name.FormattedName, c.Name.FirstName); n != "" {
			names = append(names, n)
		}
	}
	msg.Text = strings.TrimSpace("[contacts] " + strings.Join(names, ", "))
	return nil
}

func renderInteractive(msg *Message, raw json.RawMessage) error {
	type reply struct {
		ID          string `json:"id"`
		Title       string `json:"title"`
		Description string `json:"description"`
	}
	var i struct {
		Type        string `json:"type"`
		ButtonReply *reply `json:"button_reply"`
		ListReply   *reply `json:"list_reply"`
		NFMReply    *struct {
			Name string `json:"name"`
			Body string `json:"body"`
		} `json:"nfm_reply"`
		Body *struct {
			Text string `json:"text"`
		} `json:"body"`
	}
	if err := decode(raw, &i); err != nil {
		return err
	}
	switch {
	case i.ButtonReply != nil:
		msg.Text = first(i.ButtonReply.Title, i.ButtonReply.ID)
	case i.ListReply != nil:
		msg.Text = first(i.ListReply.Title, i.ListReply.ID)
	case i.NFMReply != nil:
		msg.Text = first(i.NFMReply.Body, "[form "+i.NFMReply.Name+"]")
	case i.Body != nil && i.Body.Text != "":
		msg.Text = i.Body.Text
	default:
		msg.Text = "[interactive]"
	}
	return nil
}

func renderOrder(msg *Message, raw json.RawMessage) error {
	var o struct {
		Text  string `json:"text"`
		Items []struct {
			Quantity int `json:"quantity"`
		} `json:"product_items"`
	}
	if err := decode(raw, &o); err != nil {
		return err
	}
	n := 0
	for _, it := range o.Items {
		n += max(it.Quantity, 1)
	}
	msg.Text = fmt.Sprintf("[order: %d items]", n)
	if o.Text != "" {
		msg.Text += " " + o.Text
	}
	return nil
}
