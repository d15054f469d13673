package pipelines_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/pipelines"
	filesink "github.com/runnel-io/runnel/sinks/file"
)

// TestRunGolden runs every pipeline file of testdata/run as a batch job
// (Once), in an empty directory, and compares what each file output
// committed (its lines, sorted) with the file's .golden. Run with
// -update to rewrite the golden files, then read the diff: each was
// checked by hand against the input when written.
func TestRunGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/run/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	testdata, err := filepath.Abs("testdata/run")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			abs, _ := filepath.Abs(file)
			t.Chdir(t.TempDir())
			env := func(name string) (string, bool) {
				if name == "TESTDATA" {
					return testdata, true
				}
				return "", false
			}
			f, err := pipelines.LoadFile(abs, pipelines.LoadOptions{Once: true, LookupEnv: env, Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := f.Run(ctx); err != nil {
				t.Fatal(err)
			}
			got := committedOutputs(t, "out")
			golden := strings.TrimSuffix(abs, ".yaml") + ".golden"
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
				t.Errorf("outputs of %s:\n%s\nwant:\n%s", file, got, want)
			}
		})
	}
}

// committedOutputs lists the committed lines of every part-file directory
// under root, sorted, as "== dir (n lines)" sections.
func committedOutputs(t *testing.T, root string) string {
	t.Helper()
	dirs, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, d := range dirs {
		dir := filepath.Join(root, d.Name())
		lines := committedLines(t, dir)
		fmt.Fprintf(&b, "== %s (%d lines)\n", filepath.ToSlash(dir), len(lines))
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// committedLines returns the lines of a file sink's committed part files,
// sorted.
func committedLines(t *testing.T, dir string) []string {
	t.Helper()
	byTask, err := filesink.ReadCommitted(dir, "part")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, paths := range byTask {
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
				if l != "" {
					lines = append(lines, l)
				}
			}
		}
	}
	sort.Strings(lines)
	return lines
}

// quietLogger keeps the pipelines' warnings out of the test output unless
// -v is given.
func quietLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Closing the windows at the end of the input needs a bounded run, in
// the DSL and in a file.
func TestCloseWindowsNeedsOnce(t *testing.T) {
	p := pipelines.New("p", pipelines.Options{CloseWindows: true, Logger: quietLogger()})
	if err := p.Run(context.Background()); !errors.Is(err, pipelines.ErrCloseWindowsNeedsOnce) {
		t.Errorf("Run: %v, want ErrCloseWindowsNeedsOnce", err)
	}
	if _, err := pipelines.Parse("p.yaml", []byte("pipelines: {}\n"), pipelines.LoadOptions{CloseWindows: true}); !errors.Is(err, pipelines.ErrCloseWindowsNeedsOnce) {
		t.Errorf("Parse: %v, want ErrCloseWindowsNeedsOnce", err)
	}
}
