package awsaccess

import (
	"reflect"
	"testing"
)

func TestScanCalls(t *testing.T) {
	fc, err := ScanCalls("testdata/calls")
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]any{
		// Through an embedded struct, to the type that declares the field.
		"Base.Store":   {fc.byType["example.com/calls.Base.Store"], []string{"Get"}},
		"Holder.Other": {fc.byType["example.com/calls.Holder.Other"], []string{"Put"}},
		// A holder the scan cannot tell: by the field's name alone.
		"Other":         {fc.byName["Other"], []string{"Drop"}},
		"Leaky escapes": {fc.escaped["Leaky"], true},
		// Compared with nil, assigned: no escape.
		"Other escapes": {fc.escaped["Other"], false},
		"Store escapes": {fc.escaped["Store"], false},
	}
	for what, c := range checks {
		if !reflect.DeepEqual(c[0], c[1]) {
			t.Errorf("%s = %v, want %v", what, c[0], c[1])
		}
	}
	all := []string{"Drop", "Get", "Put"}
	if got := fc.narrow(reflect.TypeOf(struct{}{}), "Leaky", all); !reflect.DeepEqual(got, all) {
		t.Errorf("an escaped field narrows to %v", got)
	}
	if got := fc.narrow(reflect.TypeOf(struct{}{}), "Other", all); !reflect.DeepEqual(got, []string{"Drop"}) {
		t.Errorf("an unnamed holder's Other narrows to %v", got)
	}
	if got := (*FieldCalls)(nil).narrow(reflect.TypeOf(struct{}{}), "Other", all); !reflect.DeepEqual(got, all) {
		t.Errorf("without a scan, narrows to %v", got)
	}
}
