// Package events holds kapso-bridge's sample webhook deliveries: every Kapso
// event, batched, legacy-wrapped and BSUID-only variants, Meta Cloud API
// payloads, and malformed bodies. Tests iterate them through Manifest; the
// local stack's sendevent command posts them.
package events

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
)

//go:embed manifest.json kapso meta bad bench
var files embed.FS

// Routes: which endpoint a sample is sent to.
const (
	RouteProject = "project" // the project webhook
	RouteNumber  = "number"  // a phone number's kapso-kind webhook
	RouteMeta    = "meta"    // a phone number's meta-kind webhook
	RouteBad     = "bad"     // malformed: any Kapso route must answer 400
)

// Sample is one raw delivery body with the headers it is sent with.
type Sample struct {
	Path  string // relative to events/, e.g. "kapso/whatsapp.message.received.json"
	Event string // the X-Webhook-Event header; "" when the delivery has none
	Route string // one of the Route constants
	Body  []byte
}

type manifestEntry struct {
	Event string `json:"event"`
	Route string `json:"route"`
}

// Manifest returns every sample listed in manifest.json, sorted by path.
// Each call returns fresh copies, so callers may modify them.
func Manifest() ([]Sample, error) {
	raw, err := files.ReadFile("manifest.json")
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var entries map[string]manifestEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	samples := make([]Sample, 0, len(entries))
	for path, e := range entries {
		switch e.Route {
		case RouteProject, RouteNumber, RouteMeta, RouteBad:
		default:
			return nil, fmt.Errorf("manifest %s: unknown route %q", path, e.Route)
		}
		body, err := files.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read sample %s: %w", path, err)
		}
		samples = append(samples, Sample{Path: path, Event: e.Event, Route: e.Route, Body: body})
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i].Path < samples[j].Path })
	return samples, nil
}

// Lookup returns the sample at path (relative to events/).
func Lookup(path string) (Sample, error) {
	samples, err := Manifest()
	if err != nil {
		return Sample{}, err
	}
	for _, s := range samples {
		if s.Path == path {
			return s, nil
		}
	}
	return Sample{}, fmt.Errorf("sample %s: %w", path, fs.ErrNotExist)
}

// Files returns the paths of every embedded sample body, whether or not the
// manifest lists it; tests use it to keep the two in step.
func Files() ([]string, error) {
	var paths []string
	err := fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && path != "manifest.json" {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list samples: %w", err)
	}
	return paths, nil
}
