package pipelines

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/internal/fsutil"
)

// A data directory keeps its instance id across runs, and is locked while
// a process holds it: the pipelines of one process share it.
func TestInstanceID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	id1, release1, err := acquireInstance(dir)
	if err != nil {
		t.Fatal(err)
	}
	id2, release2, err := acquireInstance(dir)
	if err != nil || id2 != id1 {
		t.Fatalf("a second pipeline of the process got %q, %v; want %q", id2, err, id1)
	}
	// Another process (another open file) finds it locked.
	if _, err := fsutil.Lock(filepath.Join(dir, instanceLockFile)); !errors.Is(err, fsutil.ErrLocked) {
		t.Fatalf("the data directory is not locked while in use: %v", err)
	}
	release1()
	release1() // idempotent
	if _, err := fsutil.Lock(filepath.Join(dir, instanceLockFile)); !errors.Is(err, fsutil.ErrLocked) {
		t.Fatalf("released before the last pipeline did: %v", err)
	}
	release2()
	f, err := fsutil.Lock(filepath.Join(dir, instanceLockFile))
	if err != nil {
		t.Fatalf("still locked after every release: %v", err)
	}
	f.Close()

	// The next run has the same id.
	id3, release3, err := acquireInstance(dir)
	if err != nil || id3 != id1 {
		t.Fatalf("the next run got %q, %v; want %q", id3, err, id1)
	}
	release3()

	// A corrupt file is an error naming it.
	if err := os.WriteFile(filepath.Join(dir, instanceIDFile), []byte("a b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := acquireInstance(dir); err == nil || !strings.Contains(err.Error(), instanceIDFile) {
		t.Fatalf("a corrupt instance id: %v", err)
	}
}
