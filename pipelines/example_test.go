package pipelines_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/pipelines"
	filesink "github.com/runnel-io/runnel/sinks/file"
	filesrc "github.com/runnel-io/runnel/sources/file"
)

// A pipeline from files to files: keep the errors of a log, upper-case
// them, and write them exactly once. Once makes it a batch job: it reads
// what the files hold and stops.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "runnel-example")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "app.log"), []byte("ok start\nerror disk full\nok retry\nerror disk gone\n"), 0o644)

	p := pipelines.New("errors", pipelines.Options{DataDir: filepath.Join(dir, "data"), Once: true})
	lines := pipelines.FromFile(p, filesrc.Config{Paths: []string{filepath.Join(dir, "*.log")}}, engine.String())
	errs := engine.Filter(lines, func(r engine.Record[string, string]) bool { return strings.HasPrefix(r.Value, "error") })
	loud := engine.Map(errs, func(r engine.Record[string, string]) (string, error) { return strings.ToUpper(r.Value), nil })
	pipelines.ToFile(loud, filesink.Config{Dir: filepath.Join(dir, "out")}, engine.String(), engine.String())
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}

	parts, _ := filesink.ReadCommitted(filepath.Join(dir, "out"), "part")
	var out []string
	for _, files := range parts {
		for _, f := range files {
			b, _ := os.ReadFile(f)
			out = append(out, strings.Fields(strings.ReplaceAll(string(b), " ", "_"))...)
		}
	}
	sort.Strings(out)
	fmt.Println(strings.Join(out, "\n"))
	// Output:
	// ERROR_DISK_FULL
	// ERROR_DISK_GONE
}
