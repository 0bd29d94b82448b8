package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMediaTargetsAreChecked(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	ok := mediaCopy{Type: "video", Bytes: 16 << 20, PeakRSS: 30 << 20, State: "stored", SimSHA256: sum, Stored: sum, SHA256Same: true}
	heavy := ok
	heavy.Type, heavy.PeakRSS = "document", 64<<20
	wrong := ok
	wrong.Type, wrong.Stored, wrong.SHA256Same = "image", strings.Repeat("cd", 32), false
	failed := ok
	failed.Type, failed.State = "audio", "failed"
	r := Results{Targets: map[string]float64{}}
	r.checkMedia(&mediaResult{Copies: []mediaCopy{ok, heavy, wrong, failed}})
	missed := strings.Join(r.Missed, "\n")
	if len(r.Missed) != 3 || !strings.Contains(missed, "document of 16777216 bytes: peak RSS 64.0 MiB") ||
		!strings.Contains(missed, "image of") || !strings.Contains(missed, `audio of 16777216 bytes: state "failed"`) {
		t.Fatalf("missed:\n%s", missed)
	}
	if r.Targets["media_peak_rss_bytes_max"] != 64<<20 || r.Media == nil {
		t.Errorf("targets %v", r.Targets)
	}
	var out strings.Builder
	printMedia(&out, r)
	if !strings.Contains(out.String(), "peak RSS MiB") || strings.Count(out.String(), "\n") != 7 {
		t.Errorf("table:\n%s", out.String())
	}
}

// The media section in its quick form, as make bench runs it: the real
// media function binary copies a video just past one multipart part and a
// document that fits in one put, from the simulator into fauxqs S3, with
// the message stored by the local stack.
func TestMediaSectionQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("the media section starts the local stack and builds the media function")
	}
	for _, tool := range []string{"java", "node", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not on PATH: the media section needs DynamoDB Local, fauxqs and the go tool", tool)
		}
	}
	t.Chdir(filepath.Join("..", "..", "..", ".."))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	files := mediaFiles(true)
	m, err := runMedia(ctx, mediaOptions{Files: files}, func(what string) { t.Log(what) })
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Copies) != len(files) {
		t.Fatalf("%d copies", len(m.Copies))
	}
	for i, c := range m.Copies {
		if c.Type != files[i].Type || c.Bytes != files[i].Bytes || c.WorkerMs <= 0 || c.PlainMs <= 0 || c.VsPlain <= 0 {
			t.Errorf("copy %+v", c)
		}
	}
	r := Results{Targets: map[string]float64{}}
	r.checkMedia(m)
	if len(r.Missed) > 0 {
		t.Errorf("missed: %v", r.Missed)
	}
	var out strings.Builder
	printMedia(&out, r)
	t.Logf("\n%s", out.String())
}
