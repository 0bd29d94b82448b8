package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestTableCoversEveryFunction(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	names, err := functionDirs(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkTable(names, settings("http://127.0.0.1:1")); err != nil {
		t.Fatal(err)
	}
	for name, f := range functions {
		if !json.Valid(f.event) || f.check == nil {
			t.Errorf("%s: event %s, check set %v", name, f.event, f.check != nil)
		}
	}
}

func TestAFunctionWithoutAnEntryIsNamed(t *testing.T) {
	var names []string
	for name := range functions {
		names = append(names, name)
	}
	err := checkTable(append(names, "nosuchfunction"), settings("http://127.0.0.1:1"))
	if err == nil || !strings.Contains(err.Error(), "functions/nosuchfunction has no entry") {
		t.Fatalf("want an error naming functions/nosuchfunction, got %v", err)
	}
}

func TestMedian(t *testing.T) {
	if m := median([]int64{9, 1, 5}); m != 5 {
		t.Errorf("odd: %d", m)
	}
	if m := median([]int64{4, 1, 3, 2}); m != 2 {
		t.Errorf("even: %d", m)
	}
}
