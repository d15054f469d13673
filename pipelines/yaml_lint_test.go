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

// A key repeated in a mapping, at any depth, is a problem at the repeat
// that names the first: yaml.v3 decodes both into the node tree, and the
// names of inputs, outputs, pipelines, map fields and aggregations are
// keys that no spec declares (issue 12: two inputs named "sample" passed
// lint and the run wrote 59 lines instead of 40).
func TestLintDuplicateKeys(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"inputs", `
inputs:
  sample: {datagen: {preset: orders, count: 20}}
  sample: {datagen: {preset: orders, count: 20, seed: 2}}
outputs:
  a: {topic: {topic: a}}
pipelines:
  p: {from: sample, steps: [{to: a}]}
`, []string{`p.yaml:3:3: duplicate key "sample" (first at line 2)`}},
		{"outputs", `
inputs:
  sample: {datagen: {preset: orders, count: 20}}
outputs:
  a: {topic: {topic: a}}
  a: {topic: {topic: b}}
pipelines:
  p: {from: sample, steps: [{to: a}]}
`, []string{`p.yaml:5:3: duplicate key "a" (first at line 4)`}},
		{"pipelines", `
inputs:
  sample: {datagen: {preset: orders, count: 20}}
outputs:
  a: {topic: {topic: a}}
pipelines:
  p: {from: sample, steps: [{to: a}]}
  p: {from: sample, steps: [{to: a}]}
`, []string{`p.yaml:7:3: duplicate key "p" (first at line 6)`}},
		{"map fields, nested too", `
inputs:
  sample: {datagen: {preset: orders, count: 20}}
outputs:
  a: {topic: {topic: a}}
pipelines:
  p:
    from: sample
    steps:
      - map:
          id: value.id
          user: {id: value.user, id: value.user_id}
          id: value.order_id
      - to: a
`, []string{
			`p.yaml:11:34: duplicate key "id" (first at line 11)`,
			`p.yaml:12:11: duplicate key "id" (first at line 10)`,
		}},
		{"aggregations", `
inputs:
  sample: {datagen: {preset: orders, count: 20}}
outputs:
  a: {topic: {topic: a}}
pipelines:
  p:
    from: sample
    steps:
      - window: {tumbling: 1m, aggregate: {n: count(), n: sum(value.amount)}}
      - to: a
`, []string{`p.yaml:9:56: duplicate key "n" (first at line 9)`}},
		{"a connector's configuration", `
inputs:
  sample: {datagen: {preset: orders, count: 20, count: 40}}
outputs:
  a: {topic: {topic: a}}
pipelines:
  p: {from: sample, steps: [{to: a}]}
`, []string{`p.yaml:2:49: duplicate key "count" (first at line 2)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pipelines.Parse("p.yaml", []byte(strings.TrimPrefix(tc.doc, "\n")), pipelines.LoadOptions{LookupEnv: testEnv})
			var got []string
			var ps spec.Problems
			if errors.As(err, &ps) {
				for _, p := range ps {
					got = append(got, p.String())
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
