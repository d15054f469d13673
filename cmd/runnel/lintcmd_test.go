package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A pipeline file with one problem of each kind; the positions are those
// of the offending text in it.
const problemsYAML = `broker: {data_dir: data}
inputs:
  orders: {file: {paths: [in/orders.jsonl], formt: jsonl}}
outputs:
  big: {file: {dir: out/big}}
pipelinez: {}
pipelines:
  big-orders:
    from: orders
    steps:
      - filter: value.amount >
      - map: {id: value.id, amount: value.amount}
      - to: bigg
`

const cleanYAML = `inputs:
  orders: {file: {paths: [in/orders.jsonl], format: jsonl}}
outputs:
  big: {file: {dir: out/big}}
  small: {file: {dir: out/small}}
pipelines:
  big-orders:
    from: orders
    steps:
      - filter: value.amount > 100
      - to: big
  small-orders:
    from: orders
    steps:
      - filter: value.amount <= 100
      - to: small
`

// checkProblems checks that out is problemsYAML's problems, in order,
// each at file:line:col.
func checkProblems(t *testing.T, out, path string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := []struct{ line, contains string }{
		{path + `:3:45: `, `unknown field "formt" (did you mean "format"?)`},
		{path + `:6:1: unknown field "pipelinez" (did you mean "pipelines"?)`, ""},
		{path + `:11:30: `, `filter`}, // the expression ends too soon
		{path + `:13:13: `, `"bigg" (did you mean "big"?)`},
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w.line) || !strings.Contains(lines[i], w.contains) {
			t.Errorf("line %d is\n\t%s\nwant it to start with\n\t%s\nand contain %q", i+1, lines[i], w.line, w.contains)
		}
	}
}

func TestLintPrintsEveryProblemAtItsPosition(t *testing.T) {
	t.Parallel()
	path := writeFile(t, t.TempDir(), "orders.yaml", problemsYAML)
	code, out, errOut := runCLI(t, "lint", path)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	checkProblems(t, out, path)
	if want := "runnel: 4 problems in 1 file\n"; errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
}

func TestLintCleanFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeFile(t, dir, "orders.yaml", cleanYAML)
	code, out, errOut := runCLI(t, "lint", path)
	if code != 0 || out != "" || errOut != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 0 and nothing printed", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "lint", "-v", path)
	if want := path + ": ok, 2 pipelines (big-orders, small-orders)\n"; code != 0 || out != want || errOut != "" {
		t.Fatalf("-v: exit %d, stdout %q, stderr %q; want 0 and %q", code, out, errOut, want)
	}
	// Every file is checked; the status is that of the worst.
	bad := writeFile(t, dir, "bad.yaml", problemsYAML)
	code, out, errOut = runCLI(t, "lint", "-v", path, bad)
	if code != 1 || !strings.HasPrefix(out, path+": ok, 2 pipelines") {
		t.Fatalf("clean and bad file: exit %d, stdout\n%s", code, out)
	}
	checkProblems(t, strings.TrimPrefix(out, path+": ok, 2 pipelines (big-orders, small-orders)\n"), bad)
	if want := "runnel: 4 problems in 1 file\n"; errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
}

func TestLintFilesThatCannotBeRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.yaml")
	code, out, errOut := runCLI(t, "lint", missing)
	if want := "runnel: " + missing + ": no such file or directory\n"; code != 1 || out != "" || errOut != want {
		t.Errorf("missing file: exit %d, stdout %q, stderr %q; want 1 and %q", code, out, errOut, want)
	}
	bad := writeFile(t, dir, "bad.yaml", problemsYAML)
	code, out, errOut = runCLI(t, "lint", bad, missing, dir)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	checkProblems(t, out, bad)
	want := "runnel: " + missing + ": no such file or directory\n" + dir + ": is a directory\n4 problems in 1 file\n"
	if errOut != want {
		t.Errorf("stderr\n%s\nwant\n%s", errOut, want)
	}
	code, _, errOut = runCLI(t, "lint")
	if want := "runnel: name at least one pipeline file\nRun 'runnel lint --help' for usage.\n"; code != 1 || errOut != want {
		t.Errorf("no file: exit %d, stderr %q, want %q", code, errOut, want)
	}
}

// ${NAME} is looked up in the environment given.
func TestLintExpandsEnvironmentVariables(t *testing.T) {
	t.Parallel()
	path := writeFile(t, t.TempDir(), "env.yaml", strings.Replace(cleanYAML, "dir: out/big", "dir: \"${OUT_DIR}\"", 1))
	var b bytes.Buffer
	err := lintFiles(&b, []string{path}, false, func(string) (string, bool) { return "", false })
	if err == nil || err.Error() != "1 problem in 1 file" {
		t.Errorf("unset variable: error %v, want 1 problem in 1 file", err)
	}
	if want := path + ":4:21: the environment variable OUT_DIR is not set\n"; b.String() != want {
		t.Errorf("unset variable: got %q, want %q", b.String(), want)
	}
	b.Reset()
	env := map[string]string{"OUT_DIR": "out/big"}
	err = lintFiles(&b, []string{path}, true, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if want := path + ": ok, 2 pipelines (big-orders, small-orders)\n"; err != nil || b.String() != want {
		t.Errorf("set variable: error %v, output %q; want %q", err, b.String(), want)
	}
}

// Two pipelines named "p" (issue 12): lint and run both refuse the file,
// at the second name's line and column.
const twoPipelinesYAML = `inputs:
  orders: {file: {paths: [in/orders.jsonl], format: jsonl}}
outputs:
  big: {file: {dir: out/big}}
  small: {file: {dir: out/small}}
pipelines:
  p:
    from: orders
    steps:
      - filter: value.amount > 100
      - to: big
  p:
    from: orders
    steps:
      - filter: value.amount <= 100
      - to: small
`

func TestLintDuplicatePipelines(t *testing.T) {
	t.Parallel()
	path := writeFile(t, t.TempDir(), "dup.yaml", twoPipelinesYAML)
	code, out, errOut := runCLI(t, "lint", "-v", path)
	if want := path + ":12:3: duplicate key \"p\" (first at line 7)\n"; code != 1 || out != want {
		t.Errorf("exit %d, stdout %q; want 1 and %q", code, out, want)
	}
	if want := "runnel: 1 problem in 1 file\n"; errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
}
