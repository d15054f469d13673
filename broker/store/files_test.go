package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// closedDir returns a data directory that a store created and closed, with
// one topic "t" of one partition holding one record.
func closedDir(t *testing.T) (string, UUID) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, testOptions(nil))
	noErr(t, err)
	mustCreate(t, s, "t", 1, nil)
	appendBatch(t, mustPartition(t, s, "t", 0), kv(t, 1, "k", "v"))
	id := s.ClusterID()
	noErr(t, s.Close())
	return dir, id
}

func TestMetaPropertiesWrittenLikeKafka(t *testing.T) {
	t.Parallel()
	dir, id := closedDir(t)
	b, err := os.ReadFile(filepath.Join(dir, "meta.properties"))
	noErr(t, err)
	for _, line := range []string{"version=1", "cluster.id=" + id.String(), "node.id=0"} {
		if !strings.Contains(string(b), line+"\n") {
			t.Errorf("meta.properties lacks %q:\n%s", line, b)
		}
	}
	if len(id.String()) != 22 {
		t.Errorf("cluster id %q is not 22 characters of base64", id)
	}
	o := testOptions(nil)
	o.NodeID = 3
	_, err = Open(dir, o)
	wantErr(t, err, []error{ErrCorrupt}, "meta.properties:7: node.id=0, but this broker is node 3")
}

func TestMetaPropertiesCorrupt(t *testing.T) {
	t.Parallel()
	good := NewUUID().String()
	for _, tc := range []struct {
		name    string
		content string // "" removes the file
		line    int
		text    string
	}{
		{"newer version", "version=2\ncluster.id=" + good + "\nnode.id=0\n", 1, "version=2: this runnel reads version 1 only"},
		{"bad cluster id", "#\nversion=1\ncluster.id=nope\nnode.id=0\n", 3, `cluster.id: "nope" is not a UUID`},
		{"zero cluster id", "version=1\ncluster.id=AAAAAAAAAAAAAAAAAAAAAA\nnode.id=0\n", 2, "zero UUID"},
		{"not key=value", "version=1\ncluster.id " + good + "\nnode.id=0\n", 2, "is not a key=value line"},
		{"repeated key", "version=1\ncluster.id=" + good + "\nnode.id=0\nnode.id=0\n", 4, "node.id is set a second time (first on line 3)"},
		{"bad node id", "version=1\ncluster.id=" + good + "\nnode.id=-1\n", 3, "node.id=-1: want a non-negative integer"},
		{"missing key", "version=1\nnode.id=0\n", 0, "cluster.id is missing"},
		{"file missing", "", 0, "missing, but the directory holds runnel data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, _ := closedDir(t)
			path := filepath.Join(dir, "meta.properties")
			if tc.content == "" {
				noErr(t, os.Remove(path))
			} else {
				noErr(t, os.WriteFile(path, []byte(tc.content), 0o644))
			}
			_, err := Open(dir, testOptions(nil))
			wantErr(t, err, []error{ErrCorrupt}, tc.text)
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("%T is not a *CorruptError", err)
			}
			equal(t, "path", ce.Path, path)
			equal(t, "line", ce.Line, tc.line)
			if tc.line > 0 && !strings.HasPrefix(err.Error(), fmt.Sprintf("%s:%d: ", path, tc.line)) {
				t.Errorf("error %q does not start with file:line", err)
			}
		})
	}
}

func TestTopicsFileCorrupt(t *testing.T) {
	t.Parallel()
	id1, id2 := NewUUID().String(), NewUUID().String()
	entry := func(name, id string, partitions int, extra string) string {
		return fmt.Sprintf(`{"name": %q, "id": %q, "partitions": %d%s}`, name, id, partitions, extra)
	}
	doc := func(entries ...string) string {
		return "{\n  \"version\": 1,\n  \"topics\": [\n    " + strings.Join(entries, ",\n    ") + "\n  ]\n}\n"
	}
	for _, tc := range []struct {
		name    string
		content string // "" removes the file
		line    int
		text    string
	}{
		{"torn", "{\n  \"version\": 1,\n  \"topics\": [\n", 4, "the file ends in the middle of the JSON document"},
		{"syntax", doc(entry("t", id1, 1, ""), "{\"name\" \"u\"}"), 5, "invalid character"},
		{"wrong type", doc(entry("t", id1, 1, ""), `{"name": "u", "id": "`+id2+`", "partitions": "2"}`), 5, "cannot unmarshal string"},
		{"unknown field", doc(entry("t", id1, 1, `, "replicas": 3`)), 4, `unknown field "replicas"`},
		{"newer version", strings.Replace(doc(entry("t", id1, 1, "")), `"version": 1`, `"version": 2`, 1), 2, "version 2: this runnel reads version 1 only"},
		{"bad name", doc(entry("t", id1, 1, ""), entry("a/b", id2, 1, "")), 5, `topic "a/b": broker/store: invalid topic name`},
		{"no id", doc(`{"name": "t", "partitions": 1}`), 4, `topic "t": no id`},
		{"bad id", doc(entry("t", "xyz", 1, "")), 4, `"xyz" is not a UUID`},
		{"same id twice", doc(entry("t", id1, 1, ""), entry("u", id1, 1, "")), 5, `is also the id of topic "t"`},
		{"same name twice", doc(entry("t", id1, 1, ""), entry("t", id2, 1, "")), 5, "listed twice"},
		{"no partitions", doc(entry("t", id1, 0, "")), 4, "0 partitions: want 1 to"},
		{"bad config", doc(entry("t", id1, 1, `, "configs": {"retention.ms": "forever"}`)), 4, `retention.ms="forever": not an integer`},
		{"file missing", "", 0, "missing, but the directory holds partition directories (t-0)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, _ := closedDir(t)
			path := filepath.Join(dir, "topics.json")
			if tc.content == "" {
				noErr(t, os.Remove(path))
			} else {
				noErr(t, os.WriteFile(path, []byte(tc.content), 0o644))
			}
			_, err := Open(dir, testOptions(nil))
			wantErr(t, err, []error{ErrCorrupt}, tc.text)
			var ce *CorruptError
			if errors.As(err, &ce) {
				equal(t, "line", ce.Line, tc.line)
			}
		})
	}
}

func TestTopicsFileFormat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := mustOpen(t, dir, testOptions(nil))
	b := mustCreate(t, s, "b", 2, map[string]string{"retention.ms": "1000", "cleanup.policy": "compact"})
	a := mustCreate(t, s, "a", 1, nil)
	got, err := os.ReadFile(filepath.Join(dir, "topics.json"))
	noErr(t, err)
	want := `{
  "version": 1,
  "topics": [
    {
      "name": "a",
      "id": "` + a.ID.String() + `",
      "partitions": 1
    },
    {
      "name": "b",
      "id": "` + b.ID.String() + `",
      "partitions": 2,
      "configs": {
        "cleanup.policy": "compact",
        "retention.ms": "1000"
      }
    }
  ]
}
`
	equal(t, "topics.json", string(got), want)
}

// TestOpenCleansUp checks what Open does with directories that topics.json
// does not account for.
func TestOpenCleansUp(t *testing.T) {
	t.Parallel()
	dir, _ := closedDir(t)
	mk := func(name string, data string) {
		noErr(t, os.MkdirAll(filepath.Join(dir, name), 0o755))
		noErr(t, os.WriteFile(filepath.Join(dir, name, "00000000000000000000.log"), []byte(data), 0o644))
	}
	mk("gone-0", "records")                  // a deleted topic, crash before the rename: set aside
	mk("gone-1", "")                         // an interrupted create: removed
	mk("t-1", "records")                     // a partition past the topic's count: set aside
	mk("t-0.0123456789abcdef-delete", "old") // an interrupted delete: removed
	mk("not a partition", "x")               // not ours: untouched
	noErr(t, os.WriteFile(filepath.Join(dir, "topics.json.tmp"), []byte("{"), 0o644))

	s := mustOpen(t, dir, testOptions(nil))
	entries, err := os.ReadDir(dir)
	noErr(t, err)
	var names []string
	for _, e := range entries {
		name := e.Name()
		if i := strings.IndexByte(name, '.'); i > 0 && strings.HasSuffix(name, "-stray") {
			name = name[:i] + ".*-stray"
		}
		names = append(names, name)
	}
	equal(t, "directory", strings.Join(names, " "),
		".lock gone-0.*-stray meta.properties not a partition t-0 t-1.*-stray topics.json")
	equal(t, "records of t-0", len(readAll(t, mustPartition(t, s, "t", 0))), 1)

	// A partition created under a set-aside name starts empty.
	mk("t-1", "records")
	noErr(t, s.CreatePartitions("t", 2))
	_, _, end := mustPartition(t, s, "t", 1).Offsets()
	equal(t, "end offset of the new partition", end, int64(0))
}
