package events

import (
	"encoding/json"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
)

func TestManifestListsEveryFile(t *testing.T) {
	samples, err := Manifest()
	if err != nil {
		t.Fatal(err)
	}
	files, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	listed := make([]string, len(samples))
	for i, s := range samples {
		listed[i] = s.Path
	}
	slices.Sort(files)
	if !slices.Equal(listed, files) {
		t.Fatalf("manifest and files differ:\nmanifest %v\nfiles    %v", listed, files)
	}
	if len(samples) < 40 {
		t.Errorf("only %d samples", len(samples))
	}
}

func TestSamplesMatchTheirRoute(t *testing.T) {
	samples, err := Manifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range samples {
		t.Run(s.Path, func(t *testing.T) {
			dir, _, _ := strings.Cut(s.Path, "/")
			wantDir := map[string]string{RouteProject: "kapso", RouteNumber: "kapso", RouteMeta: "meta", RouteBad: "bad"}[s.Route]
			// Benchmark payloads live together in bench/, whatever their route.
			if dir != wantDir && !(dir == "bench" && (s.Route == RouteNumber || s.Route == RouteMeta)) {
				t.Errorf("route %s sample lives in %s/, want %s/", s.Route, dir, wantDir)
			}
			if s.Route != RouteBad && !json.Valid(s.Body) {
				t.Errorf("a %s sample must be valid JSON", s.Route)
			}
			// A sample named after its event must be sent with that event
			// header (variants add a suffix after the name).
			base := strings.TrimSuffix(strings.TrimPrefix(s.Path, "kapso/"), ".json")
			if dir == "kapso" && s.Event != "" && !strings.HasPrefix(base, s.Event) && !strings.HasSuffix(base, s.Event) {
				t.Errorf("file %s sent as %q", s.Path, s.Event)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	s, err := Lookup("kapso/whatsapp.phone_number.created.json")
	if err != nil {
		t.Fatal(err)
	}
	if s.Event != "whatsapp.phone_number.created" || s.Route != RouteProject || len(s.Body) == 0 {
		t.Errorf("got %+v", s)
	}
	if _, err := Lookup("kapso/nope.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing sample: err = %v, want fs.ErrNotExist", err)
	}
}

func TestManifestReturnsCopies(t *testing.T) {
	a, err := Manifest()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(a, func(s Sample) bool { return len(s.Body) > 0 })
	a[i].Body[0] = 'X'
	b, err := Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if b[i].Body[0] == 'X' {
		t.Error("Manifest shares body bytes between calls")
	}
}
