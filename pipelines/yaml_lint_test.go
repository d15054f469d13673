package pipelines_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/pipelines"
	"github.com/runnel-io/runnel/pipelines/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/lint from the current output")

// testEnv is the environment the corpus sees: KAFKA_BOOTSTRAP only.
func testEnv(name string) (string, bool) {
	if name == "KAFKA_BOOTSTRAP" {
		return "localhost:9092", true
	}
	return "", false
}

// TestLintGolden checks every broken file of testdata/lint: the problems
// reported, each at its line and column, are those of its .golden file.
// Run with -update to rewrite the golden files, then read the diff.
func TestLintGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/lint/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			_, err := pipelines.LoadFile(file, pipelines.LoadOptions{LookupEnv: testEnv})
			var ps spec.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("LoadFile = %v, want problems", err)
			}
			got := ps.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("problems of %s:\n%s\nwant:\n%s", file, got, want)
			}
		})
	}
}
