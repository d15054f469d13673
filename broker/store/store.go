package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/runnel-io/runnel/broker/log"
	"github.com/runnel-io/runnel/internal/fsutil"
)

// Store is a broker's data directory: its identity, its topics and their
// partition logs. All methods are safe for concurrent use.
//
// Lock rules. ddl serializes the changes of the topic set (create, delete,
// add partitions, alter configs, Close) and is held across their file I/O,
// so that topics.json is always written by one change at a time from the
// current state. mu guards the map of topics; it is held only to read or
// swap map entries, never across I/O. Lock order: ddl before mu. A *topic is
// immutable once published in the map: a change builds a new one and swaps
// it in. The logs have their own locks; the store never calls into a log
// while holding mu.
type Store struct {
	dir  string
	opts resolved
	id   identity
	lock *os.File

	ddl sync.Mutex

	mu struct {
		sync.RWMutex
		// topics is written with ddl and mu held; read with either.
		topics map[string]*topic
		closed bool // written with ddl and mu held
	}

	stop      chan struct{} // closed by Close: the janitor returns
	bg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// topic is one topic, immutable once published.
type topic struct {
	name    string
	id      UUID
	configs map[string]string // set on the topic; defaults are not here
	logs    []*log.Log        // index is the partition
}

// Open opens the data directory dir, creating it (with a new cluster id in
// meta.properties) when it does not exist or is empty. It finishes the
// deletions that a crash interrupted, sets aside directories that
// topics.json does not account for, and opens (and if needed recovers) every
// partition log. A nil opts means DefaultOptions(). Errors: ErrInvalidConfig
// for bad options, ErrLocked when another Store has dir open, a
// *CorruptError (ErrCorrupt) for an unusable meta.properties or topics.json,
// and the error of a partition log that cannot be opened.
func Open(dir string, opts *Options) (*Store, error) {
	o, err := resolve(opts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("broker/store: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, opts: o, lock: lock, stop: make(chan struct{})}
	if err := s.load(); err != nil {
		lock.Close()
		return nil, err
	}
	if o.BackgroundInterval > 0 {
		s.bg.Add(1)
		go s.janitor()
	}
	return s, nil
}

// load reads the identity and the topics and opens every partition.
func (s *Store) load() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("broker/store: %w", err)
	}
	haveTopics := false
	var partDirs, deleteDirs []string
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == topicsFile:
			haveTopics = true
		case name == topicsFile+".tmp" || name == metaFile+".tmp":
			os.Remove(filepath.Join(s.dir, name)) // an interrupted replace; the old file stands
		case !e.IsDir():
		case strings.HasSuffix(name, deleteSuffix):
			deleteDirs = append(deleteDirs, name)
		default:
			if _, _, ok := parsePartitionDir(name); ok {
				partDirs = append(partDirs, name)
			}
		}
	}
	fresh := !haveTopics && len(partDirs) == 0
	if s.id, err = loadIdentity(s.dir, s.opts.NodeID, fresh); err != nil {
		return err
	}
	var list []topicEntry
	switch {
	case haveTopics:
		if list, err = readTopics(s.dir); err != nil {
			return err
		}
	case len(partDirs) > 0:
		return corruptf(filepath.Join(s.dir, topicsFile), 0,
			"missing, but the directory holds partition directories (%s); restore the file, or move them away",
			strings.Join(partDirs[:min(len(partDirs), 3)], ", "))
	default:
		if err := fsutil.WriteFileAtomic(s.dir, topicsFile, marshalTopics(nil)); err != nil {
			return fmt.Errorf("broker/store: %w", err)
		}
	}

	for _, d := range deleteDirs {
		if err := os.RemoveAll(filepath.Join(s.dir, d)); err != nil {
			s.opts.Logger.Warn("cannot remove a deleted partition directory", "dir", d, "err", err)
		}
	}
	known := map[string]bool{}
	for _, e := range list {
		for p := range e.Partitions {
			known[partitionDir(e.Name, p)] = true
		}
	}
	for _, d := range partDirs {
		if !known[d] {
			if err := s.setAside(d, "it belongs to no topic of topics.json"); err != nil {
				// It stays where it is; creating a partition of that name retries.
				s.opts.Logger.Error("cannot set aside a leftover partition directory", "dir", d, "err", err)
			}
		}
	}

	topics := make(map[string]*topic, len(list))
	closeAll := func() {
		for _, t := range topics {
			closeLogs(t.logs)
		}
	}
	recovered := 0
	for _, e := range list {
		t := &topic{name: e.Name, id: e.ID, configs: e.Configs}
		topics[e.Name] = t
		for p := range e.Partitions {
			l, err := s.openLog(e.Name, p, e.Configs)
			if err != nil {
				closeAll()
				return err
			}
			if rep := l.Recovery(); !rep.Clean {
				recovered++
				s.opts.Logger.Info("partition recovered", "topic", e.Name, "partition", p,
					"scanned_bytes", rep.ScannedBytes, "lost_bytes", rep.LostBytes(), "duration", rep.Duration)
			}
			t.logs = append(t.logs, l)
		}
	}
	s.mu.topics = topics
	s.opts.Logger.Info("data directory open", "dir", s.dir, "cluster_id", s.id.clusterID,
		"node_id", s.id.nodeID, "topics", len(topics), "recovered_partitions", recovered)
	return nil
}

// openLog opens partition p of a topic with configs.
func (s *Store) openLog(name string, p int, configs map[string]string) (*log.Log, error) {
	o, err := s.logOptions(name, p, configs)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(s.dir, partitionDir(name, p))
	l, err := log.Open(dir, &o)
	if err != nil {
		return nil, fmt.Errorf("broker/store: open partition %s: %w", dir, err)
	}
	return l, nil
}

// setAside takes the partition directory name out of the way: removed
// when it holds no record, renamed "<name>.<id>-stray" and reported
// otherwise. Data runnel cannot account for is never deleted.
func (s *Store) setAside(name, why string) error {
	path := filepath.Join(s.dir, name)
	if !holdsData(path) {
		if err := os.RemoveAll(path); err != nil {
			return fmt.Errorf("broker/store: remove the empty leftover directory %s: %w", path, err)
		}
		return nil
	}
	topic, p, _ := parsePartitionDir(name)
	to := filepath.Join(s.dir, retiredDir(topic, p, straySuffix))
	if err := os.Rename(path, to); err != nil {
		return fmt.Errorf("broker/store: set aside the stray partition directory %s: %w", path, err)
	}
	s.opts.Logger.Warn("set aside a partition directory with data: "+why+"; remove it when you no longer need it",
		"dir", path, "now", to)
	return fsutil.SyncDir(s.dir)
}

// holdsData reports whether a partition directory has a non-empty .log
// file (or cannot be read, which counts as data).
func holdsData(path string) bool {
	entries, err := os.ReadDir(path)
	if err != nil {
		return true
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		if info, err := e.Info(); err != nil || info.Size() > 0 {
			return true
		}
	}
	return false
}

func closeLogs(logs []*log.Log) error {
	var errs []error
	for _, l := range logs {
		errs = append(errs, l.Close())
	}
	return errors.Join(errs...)
}

// Dir is the data directory.
func (s *Store) Dir() string { return s.dir }

// ClusterID is the cluster id from meta.properties.
func (s *Store) ClusterID() UUID { return s.id.clusterID }

// NodeID is the node id from meta.properties.
func (s *Store) NodeID() int32 { return s.id.nodeID }

// Partition returns the log of partition p of topic. The log stays valid
// until the topic is deleted or the store closed; after that its methods
// return log.ErrClosed. Errors: ErrUnknownTopic (no such topic, or p out of
// range), ErrClosed.
func (s *Store) Partition(topic string, p int) (*log.Log, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.closed {
		return nil, ErrClosed
	}
	t := s.mu.topics[topic]
	if t == nil {
		return nil, fmt.Errorf("%w: no topic %q", ErrUnknownTopic, topic)
	}
	if p < 0 || p >= len(t.logs) {
		return nil, fmt.Errorf("%w: topic %q has %d partitions, no partition %d", ErrUnknownTopic, topic, len(t.logs), p)
	}
	return t.logs[p], nil
}

// Topic describes one topic. Errors: ErrUnknownTopic, ErrClosed.
func (s *Store) Topic(name string) (TopicDescription, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.closed {
		return TopicDescription{}, ErrClosed
	}
	t := s.mu.topics[name]
	if t == nil {
		return TopicDescription{}, fmt.Errorf("%w: no topic %q", ErrUnknownTopic, name)
	}
	return s.describe(t), nil
}

// Topics describes every topic, sorted by name. Errors: ErrClosed.
func (s *Store) Topics() ([]TopicDescription, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.closed {
		return nil, ErrClosed
	}
	out := make([]TopicDescription, 0, len(s.mu.topics))
	for _, t := range s.mu.topics {
		out = append(out, s.describe(t))
	}
	slices.SortFunc(out, func(a, b TopicDescription) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Close stops the janitor (waiting for a pass in progress), waits for a
// topic change in progress, and closes every log, which leaves each with a
// clean checkpoint so that the next Open reads no log data. It is
// idempotent: later calls return nil. Logs obtained from Partition return
// log.ErrClosed afterwards.
func (s *Store) Close() error {
	first := false
	s.closeOnce.Do(func() {
		first = true
		close(s.stop)
		s.bg.Wait()
		s.ddl.Lock()
		defer s.ddl.Unlock()
		s.mu.Lock()
		s.mu.closed = true
		topics := s.mu.topics
		s.mu.Unlock()
		var errs []error
		for _, t := range topics {
			errs = append(errs, closeLogs(t.logs))
		}
		errs = append(errs, s.lock.Close())
		s.closeErr = errors.Join(errs...)
	})
	if !first {
		return nil
	}
	return s.closeErr
}
