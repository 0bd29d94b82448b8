package kapso

import (
	"reflect"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/events"
	"github.com/kapso-bridge/kapso-bridge/shared/rawjson"
	"github.com/kapso-bridge/kapso-bridge/shared/rawjson/rawjsontest"
)

// readers pairs each hand-written reader with the type it fills.
var readers = []struct {
	name string
	read func(raw []byte) (any, error)
	typ  reflect.Type
}{
	{"MessageEvent", readWith(readMessageEvent), reflect.TypeFor[MessageEvent]()},
	{"Message", readWith(readMessage), reflect.TypeFor[Message]()},
	{"MessageKapso", readWith(readMessageKapso), reflect.TypeFor[MessageKapso]()},
	{"Conversation", readWith(readConversation), reflect.TypeFor[Conversation]()},
	{"ConversationEvent", readWith(readConversationEvent), reflect.TypeFor[ConversationEvent]()},
	{"ContactIdentityChanged", readWith(readContactIdentityChanged), reflect.TypeFor[ContactIdentityChanged]()},
	{"MarketingPreferenceChanged", readWith(readMarketingPreferenceChanged), reflect.TypeFor[MarketingPreferenceChanged]()},
	{"PhoneNumberCreated", readWith(readPhoneNumberCreated), reflect.TypeFor[PhoneNumberCreated]()},
	{"ConfigCreated", readWith(readConfigCreated), reflect.TypeFor[ConfigCreated]()},
	{"PhoneNumberLifecycle", readWith(readPhoneNumberLifecycle), reflect.TypeFor[PhoneNumberLifecycle]()},
	{"WorkflowEvent", readWith(readWorkflowEvent), reflect.TypeFor[WorkflowEvent]()},
}

func readWith[T any](read func(*rawjson.Decoder, *T)) func([]byte) (any, error) {
	return func(raw []byte) (any, error) {
		var v T
		d := rawjson.NewDecoder(raw)
		read(&d, &v)
		return v, d.Finish()
	}
}

func TestReadersMatchEncodingJSON(t *testing.T) {
	for _, r := range readers {
		for _, in := range rawjsontest.Inputs(rawjsontest.Exemplar(t, r.typ)) {
			rawjsontest.Compare(t, r.name, r.read, r.typ, []byte(in))
		}
	}
}

// FuzzReaders holds the hand-written readers to json.Unmarshal's results.
func FuzzReaders(f *testing.F) {
	samples, err := events.Manifest()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range samples {
		if items, err := Split(s.Event, s.Body); err == nil && len(s.Body) < 8<<10 {
			for _, it := range items {
				f.Add([]byte(it.Payload))
			}
		}
	}
	for _, r := range readers {
		for _, in := range rawjsontest.Inputs(rawjsontest.Exemplar(f, r.typ)) {
			f.Add([]byte(in))
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, r := range readers {
			rawjsontest.Compare(t, r.name, r.read, r.typ, raw)
		}
	})
}
