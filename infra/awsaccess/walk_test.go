package awsaccess

import (
	"reflect"
	"strings"
	"testing"
)

// Stand-ins for adapters and their consumers.
type (
	fakeStore  struct{ Table string }
	fakeSender struct{ Bodies interface{ Put() } }
	getter     interface{ Get() }
	sender     interface{ Send() }
	consumer   struct {
		Store    getter
		Queue    sender
		QueueURL string
		Nested   *nested
		Pinned   *fakeStore // the adapter's own type: any of its methods
		Handlers map[string]func()
		Self     *consumer
	}
	nested struct{ Stores []getter }
)

func (*fakeStore) Get()   {}
func (*fakeStore) Put()   {}
func (*fakeStore) Drop()  {}
func (*fakeSender) Send() {}

func TestWalk(t *testing.T) {
	const pkg = "github.com/kapso-bridge/kapso-bridge/infra/awsaccess."
	as := Adapters{
		pkg + "fakeStore": {Name: "fakeStore", Methods: map[string]Method{
			"Get":  {Ops: ops("dynamodb:GetItem")},
			"Put":  {Ops: ops("dynamodb:PutItem")},
			"Drop": {Ops: ops("dynamodb:DeleteItem")},
		}},
		pkg + "fakeSender": {Name: "fakeSender", Methods: map[string]Method{
			"Send": {Ops: ops("sqs:SendMessage"), Calls: []Call{{"Bodies", "Put"}}},
		}},
	}
	c := &consumer{
		Store:    &fakeStore{Table: "a"},
		Queue:    &fakeSender{Bodies: &fakeStore{Table: "b"}},
		QueueURL: "https://queue",
		Nested:   &nested{Stores: []getter{&fakeStore{Table: "c"}}},
		Pinned:   &fakeStore{Table: "d"},
		Handlers: map[string]func(){"GET /": func() {}},
	}
	c.Self = c
	found, err := Walk(c, as)
	if err != nil {
		t.Fatal(err)
	}
	type use struct {
		path, table, holder string
		methods             []string
		ops                 []Op
	}
	var got []use
	for _, u := range found.Uses {
		table := ""
		if f := u.Value.FieldByName("Table"); f.IsValid() {
			table = f.String()
		}
		got = append(got, use{u.Path, table, u.Holder.Type().Name(), u.Methods, u.Ops})
	}
	want := []use{
		{"*awsaccess.consumer.Nested.Stores[0]", "c", "nested", []string{"Get"}, ops("dynamodb:GetItem")},
		{"*awsaccess.consumer.Pinned", "d", "consumer", []string{"Drop", "Get", "Put"},
			ops("dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem")},
		{"*awsaccess.consumer.Queue", "", "consumer", []string{"Send"}, ops("sqs:SendMessage")},
		// Only what the sender calls of the store it holds.
		{"*awsaccess.consumer.Queue.Bodies", "b", "fakeSender", []string{"Put"}, ops("dynamodb:PutItem")},
		{"*awsaccess.consumer.Store", "a", "consumer", []string{"Get"}, ops("dynamodb:GetItem")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("uses:\n got %+v\nwant %+v", got, want)
	}
	if len(found.Funcs) != 1 || found.Funcs[0].Path != `*awsaccess.consumer.Handlers["GET /"]` ||
		!strings.HasPrefix(found.Funcs[0].Name, pkg+"TestWalk.func") {
		t.Errorf("funcs = %+v", found.Funcs)
	}
}

// An interface naming a method the adapter's source lacks is an error, not
// a silent omission.
func TestWalkRefusesUnknownMethods(t *testing.T) {
	as := Adapters{"github.com/kapso-bridge/kapso-bridge/infra/awsaccess.fakeStore": {Name: "fakeStore", Methods: map[string]Method{}}}
	if _, err := Walk(&consumer{Store: &fakeStore{}}, as); err == nil || !strings.Contains(err.Error(), "no method Get") {
		t.Errorf("err = %v", err)
	}
}
