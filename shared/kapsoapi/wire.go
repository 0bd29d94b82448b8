package kapsoapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// flexString accepts a JSON string, number or null: Meta ids are digit
// strings that an upstream may well send as numbers.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("want string or number, got %.40s", b)
		}
		*f = flexString(n.String())
	}
	return nil
}

// wireTime accepts RFC 3339 (with or without fraction), null and "".
type wireTime time.Time

func (t *wireTime) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("time: %w", err)
	}
	if s == nil || *s == "" {
		*t = wireTime{}
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999 -0700"} {
		if v, err := time.Parse(layout, *s); err == nil {
			*t = wireTime(v.UTC())
			return nil
		}
	}
	return fmt.Errorf("time: cannot parse %q", *s)
}

// looseText is a field Kapso documents as a string but that may be an
// object (e.g. whatsapp_setup_error); objects are kept as their JSON text.
type looseText string

func (l *looseText) UnmarshalJSON(b []byte) error {
	*l = looseText(strings.TrimSpace(text(b)))
	return nil
}
