package postgres

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"log/slog"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/connect/connecttest"
)

// TestPollCancel: Poll returns ctx's error when ctx ends, while it waits
// for rows and in the middle of a query; the source goes on afterwards.
func TestPollCancel(t *testing.T) {
	t.Parallel()
	url, conn := database(t,
		`CREATE TABLE t (id bigint PRIMARY KEY)`,
		`INSERT INTO t VALUES (1)`,
		`CREATE FUNCTION slow(i bigint) RETURNS bigint LANGUAGE sql AS $$ SELECT pg_sleep(60); SELECT i $$`)

	t.Run("waiting", func(t *testing.T) {
		s := open(t, Config{URL: url, Table: "t", Mode: ModeIncrementing, IncrementingColumn: "id", PollInterval: time.Hour}, nil)
		poll(t, s) // every row read: the next query is due in an hour
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			bs, err := s.Poll(ctx)
			if len(bs) > 0 {
				err = errors.New("records")
			}
			done <- err
		}()
		cancel()
		requireCanceled(t, done)
	})

	t.Run("querying", func(t *testing.T) {
		s := open(t, Config{URL: url, Query: "SELECT slow(id) AS id FROM t", Name: "slow", Mode: ModeIncrementing, IncrementingColumn: "id"}, nil)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := s.Poll(ctx)
			done <- err
		}()
		// Cancel once the query runs.
		deadline := time.Now().Add(20 * time.Second)
		for {
			var n int
			requireNoError(t, conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND state = 'active' AND query LIKE '%slow(id)%' AND pid <> pg_backend_pid()`).Scan(&n))
			if n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the query never ran")
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		requireCanceled(t, done)
		// The connection went with the query: the next Poll opens another.
		exec(t, conn, `CREATE OR REPLACE FUNCTION slow(i bigint) RETURNS bigint LANGUAGE sql AS $$ SELECT i $$`)
		if got := offsets(poll(t, s)); !slices.Equal(got, []int64{1}) {
			t.Fatalf("after the cancellation: ids %v, want 1", got)
		}
	})
}

func requireCanceled(t *testing.T, done chan error) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Poll: %v, want context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Poll ignored the cancellation")
	}
}

// TestReconnect: a lost connection is opened again; when that keeps
// failing, Poll returns the error after the attempts.
func TestReconnect(t *testing.T) {
	t.Parallel()
	url, conn := database(t, `CREATE TABLE t (id bigserial PRIMARY KEY)`, `INSERT INTO t SELECT FROM generate_series(1, 3)`)
	var log bytes.Buffer // written by Poll, on this goroutine
	s := open(t, Config{URL: url, Table: "t", Mode: ModeIncrementing, IncrementingColumn: "id", PollInterval: time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&log, nil))}, nil)
	if got := offsets(poll(t, s)); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("ids %v", got)
	}
	pid := s.conn.PgConn().PID()
	exec(t, conn, "SELECT pg_terminate_backend($1)", pid)
	exec(t, conn, "INSERT INTO t SELECT FROM generate_series(1, 2)")
	if got := offsets(poll(t, s)); !slices.Equal(got, []int64{4, 5}) {
		t.Fatalf("after the connection was lost: ids %v, want 4 and 5", got)
	}
	if s.conn.PgConn().PID() == pid {
		t.Fatal("the same backend still serves the source")
	}
	if n := strings.Count(log.String(), "connection lost; reconnecting"); n != 1 {
		t.Fatalf("%d warnings logged, want 1:\n%s", n, log.String())
	}
	log.Reset()

	// The server goes away for good.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	requireNoError(t, err)
	s.connCfg.Host, s.connCfg.Port = "127.0.0.1", uint16(l.Addr().(*net.TCPAddr).Port)
	requireNoError(t, l.Close())
	exec(t, conn, "SELECT pg_terminate_backend($1)", s.conn.PgConn().PID())
	_, err = s.Poll(testCtx(t))
	requireErrorContains(t, err, "postgres source: t: connection lost, 5 attempts failed: postgres source: t: connecting:")
	if n := strings.Count(log.String(), "connection lost; reconnecting"); n != 4 {
		t.Fatalf("%d warnings logged, want 4:\n%s", n, log.String())
	}
}

func TestOffsetsFile(t *testing.T) {
	t.Parallel()
	url, _ := database(t, `CREATE TABLE t (id bigint PRIMARY KEY)`, `INSERT INTO t SELECT generate_series(1, 10)`)
	dir := t.TempDir()
	path := filepath.Join(dir, "offsets.json")
	cfg := Config{URL: url, Table: "t", Mode: ModeIncrementing, IncrementingColumn: "id", OffsetsFile: path}
	ctx := testCtx(t)

	s := open(t, cfg, nil)
	if n := len(readAll(t, s)); n != 10 {
		t.Fatalf("read %d rows", n)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("offsets file written before a Commit: %v", err)
	}
	in := s.Input()
	requireNoError(t, s.Commit(ctx, connect.Checkpoint{0: {in: 4}}))
	if got, want := readFile(t, path), `{"version":1,"stream":"postgres:t","mode":"incrementing","next":4}`+"\n"; got != want {
		t.Fatalf("offsets file %q, want %q", got, want)
	}
	// Other tasks and inputs are not the source's.
	requireNoError(t, s.Commit(ctx, connect.Checkpoint{7: {in: 5}, 0: {{Stream: "postgres:u"}: 6}}))
	if got := readFile(t, path); !strings.Contains(got, `"next":4`) {
		t.Fatalf("offsets file %q changed", got)
	}
	// A new source resumes there, unless the Assignments say otherwise.
	if got := offsets(readAll(t, open(t, cfg, nil))); !slices.Equal(got, seq(5, 10)) {
		t.Fatalf("resumed at ids %v, want 5 to 10", got)
	}
	if got := offsets(readAll(t, open(t, cfg, at("t", 8)))); !slices.Equal(got, []int64{9, 10}) {
		t.Fatalf("resumed at ids %v, want 9 and 10", got)
	}
	for _, tc := range []struct{ name, content, want string }{
		{"corrupt", `{"version":1,"str`, "corrupt: unexpected end of JSON input"},
		{"version", `{"version":2,"stream":"postgres:t","mode":"incrementing","next":1}`, "unknown version 2"},
		{"other stream", `{"version":1,"stream":"postgres:u","mode":"incrementing","next":1}`, `holds the position of "postgres:u", not "postgres:t"`},
		{"other mode", `{"version":1,"stream":"postgres:t","mode":"timestamp+incrementing","next":1}`,
			"holds a position of timestamp+incrementing mode, not incrementing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "o.json")
			requireNoError(t, os.WriteFile(bad, []byte(tc.content), 0o644))
			cfg := cfg
			cfg.OffsetsFile = bad
			s, err := New(cfg)
			requireNoError(t, err)
			requireErrorContains(t, s.Open(ctx, &connecttest.Assignments{}), "postgres source: offsets_file: "+bad+": "+tc.want)
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	requireNoError(t, err)
	return string(b)
}
