package pipelines

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/runnel-io/runnel/internal/fsutil"
)

// A data directory names the process that runs pipelines on it: the file
// instance-id, made at the first run, holds an id that the transactional
// ids of the process's Kafka producers are built from. A restarted
// process has the same ids, so its producers fence those of its previous
// incarnation, and Kafka aborts the transactions that incarnation left
// open at once instead of after their timeout: until then they hold back
// the last stable offset of every partition they wrote, and a run --once
// that follows a kill -9 would stop short of the records written after
// them. (Kafka Streams keeps a process id in its state directory for the
// same reason.) The directory is locked (runnel.lock) while a process
// uses it, since two processes with one id would fence each other.
const (
	instanceIDFile   = "instance-id"
	instanceLockFile = "runnel.lock"
)

// instances are the data directories this process holds, by absolute
// path: the pipelines of a file share theirs.
var instances struct {
	sync.Mutex
	m map[string]*instance
}

type instance struct {
	id   string
	lock *os.File
	refs int
}

// acquireInstance returns the instance id of the data directory dir,
// making it on first use, and holds the directory's lock until release
// is called as often as acquireInstance was.
func acquireInstance(dir string) (id string, release func(), err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", nil, err
	}
	instances.Lock()
	defer instances.Unlock()
	in := instances.m[abs]
	if in == nil {
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return "", nil, fmt.Errorf("pipelines: data directory: %w", err)
		}
		lock, err := fsutil.Lock(filepath.Join(abs, instanceLockFile))
		if errors.Is(err, fsutil.ErrLocked) {
			return "", nil, fmt.Errorf("pipelines: the data directory %s is in use by another runnel process (%w); give each process its own", abs, err)
		}
		if err != nil {
			return "", nil, fmt.Errorf("pipelines: data directory: %w", err)
		}
		id, err := readInstanceID(abs)
		if err != nil {
			lock.Close()
			return "", nil, err
		}
		in = &instance{id: id, lock: lock}
		if instances.m == nil {
			instances.m = map[string]*instance{}
		}
		instances.m[abs] = in
	}
	in.refs++
	var once sync.Once
	return in.id, func() {
		once.Do(func() {
			instances.Lock()
			defer instances.Unlock()
			if in.refs--; in.refs == 0 {
				in.lock.Close()
				delete(instances.m, abs)
			}
		})
	}, nil
}

// readInstanceID reads dir/instance-id, writing a new id there first when
// there is none: the host name and 8 random hex digits.
func readInstanceID(dir string) (string, error) {
	path := filepath.Join(dir, instanceIDFile)
	b, err := os.ReadFile(path)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if id == "" || strings.ContainsAny(id, " \t\r\n") {
			return "", fmt.Errorf("pipelines: %s: corrupt instance id %q (delete the file: a new id is made)", path, b)
		}
		return id, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("pipelines: %w", err)
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "runnel"
	}
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	id := host + "-" + hex.EncodeToString(r[:])
	if err := fsutil.WriteFileAtomic(dir, instanceIDFile, []byte(id+"\n")); err != nil {
		return "", fmt.Errorf("pipelines: writing %s: %w", path, err)
	}
	return id, nil
}
