package sqsqueue

import (
	"strings"
	"testing"
)

func TestBatchesRespectCountAndSize(t *testing.T) {
	small := strings.Repeat("a", 10)
	big := strings.Repeat("b", 600)
	cases := []struct {
		name   string
		bodies []string
		limit  int
		want   []int
	}{
		{"empty", nil, 1000, nil},
		{"ten per batch", repeat(small, 25), 1000, []int{10, 10, 5}},
		{"size splits before ten", []string{big, big, small, big}, 1000, []int{1, 2, 1}},
		{"one oversized body still travels alone", []string{strings.Repeat("c", 2000), small}, 1000, []int{1, 1}},
	}
	for _, c := range cases {
		got := Batches(c.bodies, c.limit)
		if len(got) != len(c.want) {
			t.Fatalf("%s: %d batches, want %d", c.name, len(got), len(c.want))
		}
		total := 0
		for i, b := range got {
			if len(b) != c.want[i] {
				t.Fatalf("%s: batch %d has %d, want %d", c.name, i, len(b), c.want[i])
			}
			total += len(b)
		}
		if total != len(c.bodies) {
			t.Fatalf("%s: lost bodies", c.name)
		}
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}
