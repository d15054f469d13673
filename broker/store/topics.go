package store

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/runnel-io/runnel/broker/log"
	"github.com/runnel-io/runnel/internal/fsutil"
)

// DefaultPartitions, as the partition count given to CreateTopic or
// ValidateTopic, stands for num.partitions (Kafka's NumPartitions -1).
const DefaultPartitions = -1

// CreateTopic creates a topic with partitions partitions (DefaultPartitions
// for num.partitions) and the given topic configs (keys of log.ConfigKeys;
// the store copies the map). It checks the name, the partition count and
// every config first and reports all problems in one error, which wraps
// ErrInvalidTopic, ErrInvalidPartitions and ErrInvalidConfig as they apply.
// Other errors: ErrTopicExists, ErrClosed, and I/O errors. The partition
// directories are created before topics.json names the topic, so a crash
// in between leaves only empty directories, which the next Open removes.
func (s *Store) CreateTopic(name string, partitions int, configs map[string]string) (TopicDescription, error) {
	return s.createTopic(name, partitions, configs, false)
}

// ValidateTopic checks what CreateTopic would check, with the same errors
// (ErrTopicExists included), and returns the description the topic would
// have, without its id. Nothing is created (Kafka's validate_only).
func (s *Store) ValidateTopic(name string, partitions int, configs map[string]string) (TopicDescription, error) {
	partitions, configs, err := s.checkTopic(name, partitions, configs)
	if err != nil {
		return TopicDescription{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.closed {
		return TopicDescription{}, ErrClosed
	}
	if s.mu.topics[name] != nil {
		return TopicDescription{}, fmt.Errorf("%w: %q", ErrTopicExists, name)
	}
	d := s.describe(&topic{name: name, configs: configs})
	d.Partitions = partitions
	return d, nil
}

// EnsureTopic returns the description of topic name, creating it first
// with num.partitions partitions and no topic configs when it does not
// exist and AutoCreateTopics is on, as a Kafka broker does for a producer
// or a metadata request that names an unknown topic. Errors:
// ErrUnknownTopic when the topic does not exist and auto-creation is off,
// ErrInvalidTopic, ErrClosed.
func (s *Store) EnsureTopic(name string) (TopicDescription, error) {
	if d, err := s.Topic(name); !errors.Is(err, ErrUnknownTopic) {
		return d, err
	}
	if !s.opts.AutoCreateTopics {
		return TopicDescription{}, fmt.Errorf("%w: no topic %q, and auto.create.topics.enable is off", ErrUnknownTopic, name)
	}
	return s.createTopic(name, DefaultPartitions, nil, true)
}

// checkTopic validates the arguments of CreateTopic and resolves
// DefaultPartitions. It returns a copy of configs (nil when empty).
func (s *Store) checkTopic(name string, partitions int, configs map[string]string) (int, map[string]string, error) {
	if partitions == DefaultPartitions {
		partitions = s.opts.numPartitions
	}
	if len(configs) == 0 {
		configs = nil
	}
	configs = maps.Clone(configs)
	var errs []error
	if err := ValidateTopicName(name); err != nil {
		errs = append(errs, err)
	}
	if err := checkPartitions(name, partitions); err != nil {
		errs = append(errs, err)
	}
	if problems := configProblems(configs); len(problems) > 0 {
		errs = append(errs, fmt.Errorf("%w for topic %q: %s", ErrInvalidConfig, name, strings.Join(problems, "; ")))
	}
	return partitions, configs, errors.Join(errs...)
}

func (s *Store) createTopic(name string, partitions int, configs map[string]string, mayExist bool) (TopicDescription, error) {
	partitions, configs, err := s.checkTopic(name, partitions, configs)
	if err != nil {
		return TopicDescription{}, err
	}

	s.ddl.Lock()
	defer s.ddl.Unlock()
	if s.mu.closed {
		return TopicDescription{}, ErrClosed
	}
	if t := s.mu.topics[name]; t != nil {
		if mayExist {
			return s.describe(t), nil
		}
		return TopicDescription{}, fmt.Errorf("%w: %q", ErrTopicExists, name)
	}
	t := &topic{name: name, id: s.newTopicID(), configs: configs}
	logs, err := s.openNewPartitions(t, 0, partitions)
	if err != nil {
		return TopicDescription{}, err
	}
	t.logs = logs
	next := maps.Clone(s.mu.topics)
	next[name] = t
	if err := s.commit(next); err != nil {
		s.discard(t.name, 0, logs)
		return TopicDescription{}, err
	}
	s.publish(next)
	s.opts.Logger.Info("topic created", "topic", name, "id", t.id, "partitions", partitions, "configs", configs)
	return s.describe(t), nil
}

// checkPartitions checks a partition count for topic name: 1 to
// MaxPartitions, and a directory name that fits the file system.
func checkPartitions(name string, n int) error {
	if n < 1 || n > MaxPartitions {
		return fmt.Errorf("%w for topic %q: %d; want 1 to %d, or %d for num.partitions", ErrInvalidPartitions, name, n, MaxPartitions, DefaultPartitions)
	}
	if dir := partitionDir(name, n-1); len(dir) > maxFileName {
		return fmt.Errorf("%w for topic %q: directory name %q would be longer than %d bytes", ErrInvalidPartitions, name, dir[:20]+"...", maxFileName)
	}
	return nil
}

// newTopicID returns an id no topic has. REQUIRES: s.ddl.
func (s *Store) newTopicID() UUID {
next:
	for {
		id := NewUUID()
		for _, t := range s.mu.topics {
			if t.id == id {
				continue next
			}
		}
		return id
	}
}

// openNewPartitions creates and opens partitions [from, to) of t. A
// directory already there (left by a crash) is set aside first: a new
// partition starts empty. On error, what was opened is removed again.
// REQUIRES: s.ddl.
func (s *Store) openNewPartitions(t *topic, from, to int) ([]*log.Log, error) {
	var logs []*log.Log
	for p := from; p < to; p++ {
		dir := partitionDir(t.name, p)
		if _, err := os.Lstat(filepath.Join(s.dir, dir)); err == nil {
			// Never adopt old data: if it cannot go, the create fails.
			if err := s.setAside(dir, "a new partition of that name is being created"); err != nil {
				s.discard(t.name, from, logs)
				return nil, err
			}
		}
		l, err := s.openLog(t.name, p, t.configs)
		if err != nil {
			s.discard(t.name, from, logs)
			return nil, err
		}
		logs = append(logs, l)
	}
	if err := fsutil.SyncDir(s.dir); err != nil {
		s.discard(t.name, from, logs)
		return nil, fmt.Errorf("broker/store: %w", err)
	}
	return logs, nil
}

// discard closes and removes partitions that were never committed; they
// are partitions from, from+1, ... of topic. REQUIRES: s.ddl.
func (s *Store) discard(topic string, from int, logs []*log.Log) {
	closeLogs(logs)
	for i := range logs {
		os.RemoveAll(filepath.Join(s.dir, partitionDir(topic, from+i)))
	}
}

// commit writes topics.json for the topic set next. REQUIRES: s.ddl.
func (s *Store) commit(next map[string]*topic) error {
	if err := fsutil.WriteFileAtomic(s.dir, topicsFile, marshalTopics(next)); err != nil {
		return fmt.Errorf("broker/store: write %s: %w", filepath.Join(s.dir, topicsFile), err)
	}
	return nil
}

// publish makes next the topic set. REQUIRES: s.ddl.
func (s *Store) publish(next map[string]*topic) {
	s.mu.Lock()
	s.mu.topics = next
	s.mu.Unlock()
}

// lookup returns topic name for a change. REQUIRES: s.ddl.
func (s *Store) lookup(name string) (*topic, error) {
	if s.mu.closed {
		return nil, ErrClosed
	}
	t := s.mu.topics[name]
	if t == nil {
		return nil, fmt.Errorf("%w: no topic %q", ErrUnknownTopic, name)
	}
	return t, nil
}

// DeleteTopic deletes a topic and its data. topics.json is rewritten
// first: once it is, the topic is gone, even if removing its files fails.
// Each partition directory is then renamed "<topic>-<p>.<id>-delete", as
// Kafka does, and removed; a crash leaves "-delete" directories, which the
// next Open removes, or (before the rename) partition directories that no
// topic owns, which it sets aside. Logs obtained from Partition return
// log.ErrClosed afterwards. Errors: ErrUnknownTopic, ErrClosed.
func (s *Store) DeleteTopic(name string) error {
	s.ddl.Lock()
	t, err := s.lookup(name)
	if err != nil {
		s.ddl.Unlock()
		return err
	}
	next := maps.Clone(s.mu.topics)
	delete(next, name)
	if err := s.commit(next); err != nil {
		s.ddl.Unlock()
		return err
	}
	s.publish(next)
	if err := closeLogs(t.logs); err != nil {
		s.opts.Logger.Warn("closing the logs of a deleted topic", "topic", name, "err", err)
	}
	var doomed []string
	for p := range t.logs {
		from := filepath.Join(s.dir, partitionDir(name, p))
		to := filepath.Join(s.dir, retiredDir(name, p, deleteSuffix))
		if err := os.Rename(from, to); err != nil {
			s.opts.Logger.Error("cannot rename the directory of a deleted partition; it will be set aside at the next start",
				"dir", from, "err", err)
			continue
		}
		doomed = append(doomed, to)
	}
	fsutil.SyncDir(s.dir)
	s.ddl.Unlock()

	for _, d := range doomed {
		if err := os.RemoveAll(d); err != nil {
			s.opts.Logger.Warn("cannot remove a deleted partition directory; the next start retries", "dir", d, "err", err)
		}
	}
	s.opts.Logger.Info("topic deleted", "topic", name, "id", t.id, "partitions", len(t.logs))
	return nil
}

// CreatePartitions raises the partition count of a topic to total (Kafka's
// CreatePartitions: partitions can be added, never removed). Errors:
// ErrInvalidPartitions when total is not above the current count or above
// MaxPartitions, ErrUnknownTopic, ErrClosed.
func (s *Store) CreatePartitions(name string, total int) error {
	s.ddl.Lock()
	defer s.ddl.Unlock()
	t, err := s.lookup(name)
	if err != nil {
		return err
	}
	if total <= len(t.logs) {
		return fmt.Errorf("%w for topic %q: it has %d partitions; the new count must be higher, not %d",
			ErrInvalidPartitions, name, len(t.logs), total)
	}
	if err := checkPartitions(name, total); err != nil {
		return err
	}
	added, err := s.openNewPartitions(t, len(t.logs), total)
	if err != nil {
		return err
	}
	nt := *t
	nt.logs = append(slices.Clip(t.logs), added...)
	next := maps.Clone(s.mu.topics)
	next[name] = &nt
	if err := s.commit(next); err != nil {
		s.discard(name, len(t.logs), added)
		return err
	}
	s.publish(next)
	s.opts.Logger.Info("partitions added", "topic", name, "from", len(t.logs), "to", total)
	return nil
}

// SetTopicConfig changes the configs of a topic the way Kafka's
// IncrementalAlterConfigs does: it removes the keys in del (which then take
// the broker default or the built-in one) and sets those in set. Legacy
// AlterConfigs, which replaces every config, is del = every key not in set.
// The result is validated whole, with every problem reported (a key in both
// set and del, unknown keys, bad values); on error nothing changes. The new
// configs are persisted, then applied to the open logs (log.SetOptions), so
// they take effect at once: retention and compaction at the next
// maintenance pass, segment.bytes at the next append. Errors:
// ErrInvalidConfig, ErrUnknownTopic, ErrClosed.
func (s *Store) SetTopicConfig(name string, set map[string]string, del []string) error {
	s.ddl.Lock()
	defer s.ddl.Unlock()
	t, err := s.lookup(name)
	if err != nil {
		return err
	}
	var problems []string
	configs := maps.Clone(t.configs)
	if configs == nil {
		configs = map[string]string{}
	}
	for _, k := range del {
		if _, both := set[k]; both {
			problems = append(problems, fmt.Sprintf("%s is both set and deleted", k))
		}
		if !slices.Contains(log.ConfigKeys, k) {
			problems = append(problems, fmt.Sprintf("cannot delete unknown topic config %q", k))
		}
		delete(configs, k)
	}
	maps.Copy(configs, set)
	problems = append(problems, configProblems(configs)...)
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("%w for topic %q: %s", ErrInvalidConfig, name, strings.Join(slices.Compact(problems), "; "))
	}
	if len(configs) == 0 {
		configs = nil
	}
	opts := make([]log.Options, len(t.logs))
	for p := range t.logs {
		if opts[p], err = s.logOptions(name, p, configs); err != nil {
			return err
		}
	}
	nt := *t
	nt.configs = configs
	next := maps.Clone(s.mu.topics)
	next[name] = &nt
	if err := s.commit(next); err != nil {
		return err
	}
	s.publish(next)
	var errs []error
	for p, l := range t.logs {
		if err := l.SetOptions(opts[p]); err != nil {
			errs = append(errs, fmt.Errorf("broker/store: apply configs to partition %d of %q: %w", p, name, err))
		}
	}
	s.opts.Logger.Info("topic configs changed", "topic", name, "set", set, "deleted", del)
	return errors.Join(errs...)
}
