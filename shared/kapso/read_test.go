package kapso

import (
	"reflect"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/events"
	"github.com/kapso-bridge/kapso-bridge/testkit/rawjsontest"
)

// readers pairs each hand-written reader with the type it fills.
var readers = []struct {
	name string
	read func(raw []byte) (any, error)
	typ  reflect.Type
}{
	{"MessageEvent", rawjsontest.ReadWith(readMessageEvent), reflect.TypeFor[MessageEvent]()},
	{"Message", rawjsontest.ReadWith(readMessage), reflect.TypeFor[Message]()},
	{"MessageKapso", rawjsontest.ReadWith(readMessageKapso), reflect.TypeFor[MessageKapso]()},
	{"Conversation", rawjsontest.ReadWith(readConversation), reflect.TypeFor[Conversation]()},
	{"ConversationEvent", rawjsontest.ReadWith(readConversationEvent), reflect.TypeFor[ConversationEvent]()},
	{"ContactIdentityChanged", rawjsontest.ReadWith(readContactIdentityChanged), reflect.TypeFor[ContactIdentityChanged]()},
	{"MarketingPreferenceChanged", rawjsontest.ReadWith(readMarketingPreferenceChanged), reflect.TypeFor[MarketingPreferenceChanged]()},
	{"PhoneNumberCreated", rawjsontest.ReadWith(readPhoneNumberCreated), reflect.TypeFor[PhoneNumberCreated]()},
	{"ConfigCreated", rawjsontest.ReadWith(readConfigCreated), reflect.TypeFor[ConfigCreated]()},
	{"PhoneNumberLifecycle", rawjsontest.ReadWith(readPhoneNumberLifecycle), reflect.TypeFor[PhoneNumberLifecycle]()},
	{"WorkflowEvent", rawjsontest.ReadWith(readWorkflowEvent), reflect.TypeFor[WorkflowEvent]()},
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
