package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"
)

// TestTwoRuns runs the example twice on one data directory: the second
// run resumes, so no window is written twice, and every view of a closed
// window is counted once.
func TestTwoRuns(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	for i := 0; i < 2; i++ {
		if err := run(ctx, &out, data, 3000); err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, out.String())
		}
	}
	type key struct {
		page  string
		start time.Time
	}
	seen := map[key]bool{}
	var total int64
	err := readParts(filepath.Join(data, "out", "counts"), func(line []byte) error {
		var r Row
		if err := json.Unmarshal(line, &r); err != nil {
			return err
		}
		k := key{r.Page, r.Start}
		if seen[k] {
			t.Errorf("window %v written twice", k)
		}
		seen[k] = true
		total += r.N
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// 6000 views of which about 1% are late and the last minute or so is
	// still open: most are counted, none twice.
	if total < 5000 || total > 6000 || len(seen) < 6*8 {
		t.Fatalf("%d views in %d windows; output:\n%s", total, len(seen), out.String())
	}
}
