// Package pgtest gives tests a real PostgreSQL: a server the package starts
// itself from the installed binaries (initdb and postgres, found on PATH or
// under /usr/lib/postgresql/*/bin) in a temporary directory on a free port,
// shared by the tests of one test binary, with a fresh database per test.
// RUNNEL_TEST_PG set to a connection URL (of a role that may create
// databases) uses that server instead.
//
// A package using it calls Main from its TestMain, which stops the server
// when the tests end; the server also dies with the test binary (a parent
// death signal), so a killed test run leaves no postgres behind.
//
// Without binaries and without RUNNEL_TEST_PG the tests skip, except under
// CI=true, where they fail: CI installs PostgreSQL (.ci/run).
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runnel-io/runnel/internal/proctest"
)

// Env names the variable holding the URL of an existing server.
const Env = "RUNNEL_TEST_PG"

var (
	inMain  atomic.Bool
	once    sync.Once
	srv     *server
	srvErr  error
	skipMsg string
	dbSeq   atomic.Int64
)

// server is the shared PostgreSQL: started here (cmd set) or given by Env.
type server struct {
	admin string // URL of the postgres database, as a superuser
	dir   string
	cmd   *exec.Cmd
	exit  chan struct{}
}

// Main runs the tests of m, then stops the server if one was started, and
// exits with the tests' status.
func Main(m *testing.M) {
	inMain.Store(true)
	code := m.Run()
	if srv != nil {
		srv.stop()
	}
	os.Exit(code)
}

// URL returns the URL of a new, empty database, dropped when the test
// ends. The first call starts the server.
func URL(t testing.TB) string {
	t.Helper()
	s := start(t)
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := exec1(ctx, s.admin, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := exec1(ctx, s.admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: %v", err)
		}
	})
	u, err := url.Parse(s.admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// Conn returns a connection to url, closed when the test ends.
func Conn(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func exec1(ctx context.Context, url, sql string) error {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, sql)
	return err
}

func start(t testing.TB) *server {
	t.Helper()
	once.Do(func() {
		if u := os.Getenv(Env); u != "" {
			srv = &server{admin: u}
			return
		}
		if !inMain.Load() {
			srvErr = errors.New("call pgtest.Main from the package's TestMain, so that the server is stopped")
			return
		}
		bin, err := findBin()
		if err != nil {
			skipMsg = err.Error()
			return
		}
		srv, srvErr = launch(bin)
	})
	switch {
	case srvErr != nil:
		t.Fatalf("pgtest: %v", srvErr)
	case srv == nil && os.Getenv("CI") == "true":
		t.Fatalf("pgtest: %s (CI installs PostgreSQL: see .ci/run)", skipMsg)
	case srv == nil:
		t.Skipf("pgtest: %s; install PostgreSQL or set %s", skipMsg, Env)
	}
	return srv
}

// findBin returns the directory holding initdb and postgres: PATH first,
// then the newest /usr/lib/postgresql/*/bin.
func findBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("no PostgreSQL binaries (initdb, postgres) on PATH or under /usr/lib/postgresql/*/bin")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// launch runs initdb and postgres in a new temporary directory. PostgreSQL
// refuses to run as root: as root, both run as the user postgres (or
// nobody).
func launch(bin string) (*server, error) {
	dir, err := os.MkdirTemp("", "runnel-pg-")
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir, exit: make(chan struct{}),
		admin: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)}
	log := &proctest.Buffer{}
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "max_prepared_transactions=100")
	s.cmd.Stdout, s.cmd.Stderr = log, log
	// The server dies with the test binary: a parent death signal. It is
	// sent when the thread that started the child exits, so that thread
	// stays locked and alive.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err := s.cmd.Start()
		started <- err
		if err == nil {
			s.cmd.Wait()
		}
		close(s.exit)
		select {} // keep the thread: exiting it would signal the child
	}()
	if err := <-started; err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("postgres: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		err := exec1(ctx, s.admin, "SELECT 1")
		if err == nil {
			return s, nil
		}
		select {
		case <-s.exit:
			os.RemoveAll(dir)
			return nil, fmt.Errorf("postgres exited: %v\n%s", s.cmd.ProcessState, log.String())
		case <-ctx.Done():
			s.stop()
			return nil, fmt.Errorf("postgres did not accept connections: %v\n%s", err, log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop shuts a started server down fast and removes its directory.
func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-s.exit:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.exit
	}
	os.RemoveAll(s.dir)
}

func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root and no user postgres or nobody to run PostgreSQL as")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
