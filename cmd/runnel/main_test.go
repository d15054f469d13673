package main

import (
	"bytes"
	"context"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// runCLI runs the command line in-process, with an empty stdin, and
// returns the exit status and both outputs.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCLIWithInput(t, "", args...)
}

// runCLIWithInput is runCLI with stdin.
func runCLIWithInput(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func mustContain(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, s)
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	code, out, _ := runCLI(t, "version")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.HasPrefix(out, "runnel dev\n") {
		t.Errorf("version output does not start with %q:\n%s", "runnel dev", out)
	}
	mustContain(t, "version output", out, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)

	var b bytes.Buffer
	writeVersion(&b, &debug.BuildInfo{
		Main: debug.Module{Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0ab3427f"}, {Key: "vcs.modified", Value: "true"},
			{Key: "vcs.time", Value: "2025-03-01T12:00:00Z"},
		},
	})
	mustContain(t, "version with build info", b.String(),
		"runnel v1.2.3\n", "revision: 0ab3427f (with uncommitted changes)\n", "commit:   2025-03-01T12:00:00Z\n")
}

func TestHelp(t *testing.T) {
	t.Parallel()
	code, out, _ := runCLI(t, "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	mustContain(t, "help", out, "broker", "topic", "produce", "consume", "group", "demo", "log", "version", "Kafka protocol")
	_, out, _ = runCLI(t, "group", "--help")
	mustContain(t, "group help", out, "list", "describe", "reset-offsets", "delete", "--bootstrap")
	_, out, _ = runCLI(t, "group", "reset-offsets", "--help")
	mustContain(t, "group reset-offsets help", out, "--to-earliest", "--to-latest", "--to-offset", "--to-datetime", "--shift-by", "--execute", "dry run")
	_, out, _ = runCLI(t, "pipeline", "reset", "--help")
	mustContain(t, "pipeline reset help", out, "--to-earliest", "--to-datetime", "--execute", "dry run", "Reprocessing")
	_, out, _ = runCLI(t, "log", "dump", "--help")
	mustContain(t, "log dump help", out, "--records", ".timeindex")
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"nope"}, "runnel: unknown command \"nope\" for \"runnel\"\nRun 'runnel --help' for usage.\n"},
		{[]string{"demo", "extra"}, "runnel: runnel demo takes no arguments, got [\"extra\"]\nRun 'runnel demo --help' for usage.\n"},
		{[]string{"demo", "--bogus"}, "runnel: unknown flag: --bogus\nRun 'runnel demo --help' for usage.\n"},
		{[]string{"demo", "--compression", "lzma"}, "runnel: --compression \"lzma\" is not a codec runnel knows: use none, gzip, snappy, lz4 or zstd\n"},
		{[]string{"demo", "--records", "0"}, "runnel: --records 0: produce at least one record\n"},
		{[]string{"group", "nope"}, "runnel: unknown command \"nope\" for \"runnel group\"\nRun 'runnel group --help' for usage.\n"},
		{[]string{"pipeline", "nope"}, "runnel: unknown command \"nope\" for \"runnel pipeline\"\nRun 'runnel pipeline --help' for usage.\n"},
		{[]string{"topic", "nope"}, "runnel: unknown command \"nope\" for \"runnel topic\"\nRun 'runnel topic --help' for usage.\n"},
		{[]string{"group", "reset-offsets", "g", "--to-yesterday"}, "runnel: unknown flag: --to-yesterday\nRun 'runnel group reset-offsets --help' for usage.\n"},
		{[]string{"log", "dump"}, "runnel: name at least one .log, .index or .timeindex file\nRun 'runnel log dump --help' for usage.\n"},
		{[]string{"version", "x"}, "runnel: runnel version takes no arguments"},
	} {
		code, _, errOut := runCLI(t, tc.args...)
		if code != 1 {
			t.Errorf("%q: exit %d, want 1", tc.args, code)
		}
		if !strings.HasPrefix(errOut, tc.want) {
			t.Errorf("%q: stderr\n%s\nwant\n%s", tc.args, errOut, tc.want)
		}
	}
}
