package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runnel-io/runnel/internal/proctest"

	"github.com/runnel-io/runnel/broker/store"
	"github.com/runnel-io/runnel/internal/pgtest"
)

// TestMain lets a test run the command line in a child process: the test
// binary with RUNNEL_TEST_RUN_MAIN=1 is runnel, its arguments the command
// line. The kill tests of the Postgres sink get a server from pgtest.
func TestMain(m *testing.M) {
	if os.Getenv("RUNNEL_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	pgtest.Main(m)
}

var listeningRE = regexp.MustCompile(`^runnel broker listening on (\S+) \(data directory (.+)\)$`)

// The broker command serves Kafka clients (runnel's own produce and
// consume here) and on SIGTERM shuts down cleanly: the next open of the
// data directory finds clean checkpoints and reads no log data.
func TestBrokerCommandServesAndStopsCleanlyOnSIGTERM(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGTERM is unix only")
	}
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "broker", "--data-dir", dir, "--listen", "127.0.0.1:0", "--partitions", "2")
	cmd.Env = append(os.Environ(), "RUNNEL_TEST_RUN_MAIN=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr proctest.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var rest proctest.Buffer
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		for sc.Scan() {
			fmt.Fprintln(&rest, sc.Text())
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})

	var addr string
	select {
	case line := <-lines:
		m := listeningRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("first stdout line %q; stderr:\n%s", line, stderr.String())
		}
		addr = m[1]
		if m[2] != dir {
			t.Errorf("data directory %q, want %q", m[2], dir)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the broker did not say where it listens; stderr:\n%s", stderr.String())
	}

	// --partitions is the default partition count.
	code, out, errOut := runCLI(t, "topic", "create", "events", "-b", addr)
	if code != 0 || out != "created topic \"events\": 2 partitions, replication factor 1\n" {
		t.Fatalf("topic create: exit %d\n%s%s", code, out, errOut)
	}
	var in strings.Builder
	var want []string
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&in, "user-%d:event %d\n", i%5, i)
		want = append(want, fmt.Sprintf("user-%d=event %d", i%5, i))
	}
	code, out, errOut = runCLIWithInput(t, in.String(), "produce", "events", "-b", addr, "--key-separator", ":")
	if code != 0 || !strings.HasPrefix(out, "produced 50 records to topic \"events\": partition ") {
		t.Fatalf("produce: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "consume", "events", "-b", addr, "--format", "{{.Key}}={{.Value}}")
	if code != 0 || errOut != "50 records from topic \"events\"\n" {
		t.Fatalf("consume: exit %d\n%s", code, errOut)
	}
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("consumed\n%q\nwant\n%q", got, want)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the broker did not stop on SIGTERM; stderr:\n%s", stderr.String())
	}
	logs := stderr.String()
	mustContain(t, "stderr", logs, "level=INFO msg=\"broker listening\"", "msg=\"shutting down", "msg=\"stopped cleanly\"")
	if rest.String() != "" {
		t.Errorf("more on stdout: %q", rest.String())
	}

	st, err := store.Open(dir, &store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for p := 0; p < 2; p++ {
		l, err := st.Partition("events", p)
		if err != nil {
			t.Fatal(err)
		}
		if rep := l.Recovery(); !rep.Clean {
			t.Errorf("partition %d: recovery after SIGTERM was not clean: %+v", p, rep)
		}
	}
}

func TestBrokerCommandErrors(t *testing.T) {
	t.Parallel()
	locked := t.TempDir()
	st, err := store.Open(locked, &store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--data-dir", locked, "--listen", "127.0.0.1:0"},
			fmt.Sprintf("runnel: the data directory %s is in use by another runnel process; stop it, or pick another --data-dir\n", locked)},
		{[]string{"--data-dir", t.TempDir(), "--listen", busy.Addr().String()},
			fmt.Sprintf("runnel: cannot listen on %s: the address is in use (is another broker running?); pick another --listen\n", busy.Addr())},
		{[]string{"--data-dir", t.TempDir(), "--listen", "nowhere"},
			"runnel: broker: invalid configuration: ListenAddr \"nowhere\""},
		{[]string{"--data-dir", t.TempDir(), "--log-level", "loud"}, "runnel: --log-level \"loud\": want debug, info, warn or error\n"},
		{[]string{"--data-dir", t.TempDir(), "--partitions", "0"}, "runnel: --partitions 0: want 1 to 10000\n"},
		{[]string{"extra"}, "runnel: runnel broker takes no arguments"},
	} {
		// The broker may log to stderr before it fails.
		code, _, errOut := runCLI(t, append([]string{"broker"}, tc.args...)...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stderr\n%s\nwant\n%s", tc.args, code, errOut, tc.want)
		}
	}
}
