package posfile

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type pos struct {
	Version int    `json:"version"`
	Next    int64  `json:"next"`
	Stream  string `json:"stream"`
}

func TestReadMissing(t *testing.T) {
	var p pos
	ok, err := Read(filepath.Join(t.TempDir(), "none.json"), &p)
	if ok || err != nil {
		t.Fatalf("Read of a missing file: ok %v, err %v; want false, nil", ok, err)
	}
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "offsets.json")
	want := pos{Version: 1, Next: 42, Stream: "s"}
	if err := Write(path, want); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); s != `{"version":1,"next":42,"stream":"s"}`+"\n" {
		t.Fatalf("file holds %q", s)
	}
	var got pos
	if ok, err := Read(path, &got); !ok || err != nil {
		t.Fatalf("Read: ok %v, err %v", ok, err)
	}
	if got != want {
		t.Fatalf("read %+v, want %+v", got, want)
	}
}

func TestReadCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "offsets.json")
	if err := os.WriteFile(path, []byte(`{"version":1,"ne`), 0o644); err != nil {
		t.Fatal(err)
	}
	var p pos
	ok, err := Read(path, &p)
	if ok {
		t.Fatal("Read of a corrupt file: ok")
	}
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Path != path {
		t.Fatalf("Read of a corrupt file: %v, want a *CorruptError for %s", err, path)
	}
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("%v does not wrap the *json.SyntaxError", err)
	}
	if want := path + ": corrupt: unexpected end of JSON input"; err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
}

func TestReadError(t *testing.T) {
	dir := t.TempDir() // reading a directory fails with something other than "not exist"
	var p pos
	ok, err := Read(dir, &p)
	var ce *CorruptError
	if ok || err == nil || errors.As(err, &ce) {
		t.Fatalf("Read of a directory: ok %v, err %v", ok, err)
	}
}

func TestWriteReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "offsets.json")
	for i := range int64(3) {
		if err := Write(path, pos{Version: 1, Next: i}); err != nil {
			t.Fatal(err)
		}
	}
	var got pos
	if ok, err := Read(path, &got); !ok || err != nil || got.Next != 2 {
		t.Fatalf("Read: %+v, ok %v, err %v", got, ok, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != "offsets.json" {
		t.Fatalf("directory holds %s, want only offsets.json", strings.Join(names, ", "))
	}
}

func TestWriteFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "offsets.json")
	if err := Write(path, pos{Version: 1, Next: 7}); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, map[string]any{"bad": func() {}}); err == nil {
		t.Fatal("Write of an unencodable value: no error")
	}
	var got pos
	if ok, err := Read(path, &got); !ok || err != nil || got.Next != 7 {
		t.Fatalf("after a failed Write: %+v, ok %v, err %v", got, ok, err)
	}
}
