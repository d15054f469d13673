package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/broker/log"
)

func TestTopicLifecycle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := mustOpen(t, dir, testOptions(nil))

	a := mustCreate(t, s, "orders", 3, map[string]string{"cleanup.policy": "compact"})
	mustCreate(t, s, "page.views_v2-x", 1, nil)
	equal(t, "partitions", a.Partitions, 3)
	if a.ID.IsZero() {
		t.Fatal("topic id is zero")
	}
	for p := range 3 {
		if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("orders-%d", p))); err != nil {
			t.Errorf("partition directory: %v", err)
		}
	}

	_, err := s.CreateTopic("orders", 1, nil)
	wantErr(t, err, []error{ErrTopicExists}, `"orders"`)

	list, err := s.Topics()
	noErr(t, err)
	var names []string
	for _, d := range list {
		names = append(names, d.Name)
	}
	equal(t, "topics", strings.Join(names, ","), "orders,page.views_v2-x")

	d, err := s.Topic("orders")
	noErr(t, err)
	equal(t, "id", d.ID, a.ID)
	equal(t, "configs", len(d.Configs), len(log.ConfigKeys))
	c, _ := d.Config("cleanup.policy")
	equal(t, "cleanup.policy", c, ConfigEntry{"cleanup.policy", "compact", SourceTopic})
	c, _ = d.Config("retention.ms")
	equal(t, "retention.ms", c, ConfigEntry{"retention.ms", "604800000", SourceDefault})
	if !mustPartition(t, s, "orders", 2).Options().Compact {
		t.Error("cleanup.policy=compact did not reach the log")
	}

	l := mustPartition(t, s, "orders", 0)
	appendBatch(t, l, kv(t, 1, "k", "v"))
	_, err = s.Partition("orders", 3)
	wantErr(t, err, []error{ErrUnknownTopic}, "has 3 partitions, no partition 3")
	_, err = s.Partition("nope", 0)
	wantErr(t, err, []error{ErrUnknownTopic}, `"nope"`)

	noErr(t, s.DeleteTopic("orders"))
	wantErr(t, s.DeleteTopic("orders"), []error{ErrUnknownTopic})
	_, err = s.Topic("orders")
	wantErr(t, err, []error{ErrUnknownTopic})
	if _, err := l.Append(kv(t, 1, "k", "v")); !errors.Is(err, log.ErrClosed) {
		t.Errorf("append to a deleted partition: %v, want log.ErrClosed", err)
	}
	entries, err := os.ReadDir(dir)
	noErr(t, err)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "orders") {
			t.Errorf("%s left behind by DeleteTopic", e.Name())
		}
	}

	again := mustCreate(t, s, "orders", 1, nil)
	if again.ID == a.ID {
		t.Error("a re-created topic kept the old id")
	}
	if _, _, end := mustPartition(t, s, "orders", 0).Offsets(); end != 0 {
		t.Errorf("re-created topic starts at offset %d, want 0", end)
	}
}

func TestPersistAcrossReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := testOptions(nil)
	opts.DefaultTopicConfig = map[string]string{"retention.bytes": "1048576", "num.partitions": "2"}
	s := mustOpen(t, dir, opts)
	mustCreate(t, s, "a", 3, map[string]string{"segment.bytes": "1048576", "flush.messages": "10"})
	mustCreate(t, s, "b-1", 1, nil)
	_, err := s.EnsureTopic("auto")
	noErr(t, err)
	noErr(t, s.CreatePartitions("b-1", 4))
	noErr(t, s.SetTopicConfig("a", map[string]string{"retention.ms": "60000"}, []string{"segment.bytes"}))
	for i := range 5 {
		appendBatch(t, mustPartition(t, s, "a", 2), kv(t, int64(i), fmt.Sprint("k", i), "v"))
	}
	before, err := s.Topics()
	noErr(t, err)
	cluster := s.ClusterID()
	noErr(t, s.Close())

	s = mustOpen(t, dir, opts)
	after, err := s.Topics()
	noErr(t, err)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("topics changed across reopen:\nbefore %+v\nafter  %+v", before, after)
	}
	equal(t, "cluster id", s.ClusterID(), cluster)
	equal(t, "node id", s.NodeID(), int32(0))
	l := mustPartition(t, s, "a", 2)
	if !l.Recovery().Clean {
		t.Errorf("reopen after Close was not clean: %+v", l.Recovery())
	}
	equal(t, "records", len(readAll(t, l)), 5)
	o := l.Options()
	equal(t, "retention.ms", o.RetentionMs, time.Minute)
	equal(t, "segment.bytes (deleted, back to default)", o.SegmentBytes, int64(log.DefaultSegmentBytes))
	equal(t, "flush.messages", o.FlushMessages, int64(10))
	equal(t, "retention.bytes (broker default)", o.RetentionBytes, int64(1048576))
	d, err := s.Topic("auto")
	noErr(t, err)
	equal(t, "auto partitions (num.partitions)", d.Partitions, 2)
	c, _ := d.Config("retention.bytes")
	equal(t, "retention.bytes source", c.Source, SourceBroker)

	// Defaults are not persisted: without them, topics fall back.
	noErr(t, s.Close())
	s = mustOpen(t, dir, testOptions(nil))
	equal(t, "retention.bytes without the broker default", mustPartition(t, s, "a", 0).Options().RetentionBytes, int64(-1))
}

func TestValidateTopicName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		why  string // "" when valid
	}{
		{"orders", ""},
		{"a", ""},
		{"A.b_c-D.0", ""},
		{"__consumer_offsets", ""},
		{"..a", ""},
		{strings.Repeat("x", 249), ""},
		{"", "empty"},
		{".", `"." and ".."`},
		{"..", `"." and ".."`},
		{strings.Repeat("x", 250), "250 characters long, the limit is 249"},
		{"a/b", `character '/' at position 1`},
		{"a b", `character ' ' at position 1`},
		{"café", "byte 0xc3 at position 3 is not ASCII"},
		{"a:b", `character ':'`},
	} {
		err := ValidateTopicName(tc.name)
		if tc.why == "" {
			if err != nil {
				t.Errorf("ValidateTopicName(%q): %v", tc.name, err)
			}
			continue
		}
		wantErr(t, err, []error{ErrInvalidTopic}, tc.why)
	}
}

func TestCreateTopicInvalid(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, t.TempDir(), testOptions(nil))
	for _, tc := range []struct {
		name       string
		topic      string
		partitions int
		configs    map[string]string
		sentinels  []error
		texts      []string
	}{
		{"bad name", "a/b", 1, nil, []error{ErrInvalidTopic}, []string{`"a/b"`}},
		{"zero partitions", "t", 0, nil, []error{ErrInvalidPartitions}, []string{"0; want 1 to 10000"}},
		{"too many partitions", "t", MaxPartitions + 1, nil, []error{ErrInvalidPartitions}, nil},
		{"unknown config", "t", 1, map[string]string{"retention.mss": "1"}, []error{ErrInvalidConfig}, []string{`unknown topic config "retention.mss"`}},
		{"broker config on a topic", "t", 1, map[string]string{"num.partitions": "3"}, []error{ErrInvalidConfig}, []string{`"num.partitions"`}},
		{"bad values, all reported", "t", 1, map[string]string{
			"retention.ms": "soon", "cleanup.policy": "shred", "segment.bytes": "5",
		}, []error{ErrInvalidConfig}, []string{`retention.ms="soon": not an integer`, `cleanup.policy="shred"`, "segment.bytes = 5"}},
		{"everything at once", "", -5, map[string]string{"x": "y"},
			[]error{ErrInvalidTopic, ErrInvalidPartitions, ErrInvalidConfig}, []string{"empty", "-5", `"x"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.CreateTopic(tc.topic, tc.partitions, tc.configs)
			wantErr(t, err, tc.sentinels, tc.texts...)
			if _, err := s.Topic(tc.topic); !errors.Is(err, ErrUnknownTopic) {
				t.Errorf("a rejected topic exists: %v", err)
			}
		})
	}
	entries, err := os.ReadDir(s.Dir())
	noErr(t, err)
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("rejected creates left %s", e.Name())
		}
	}
}

func TestEnsureTopic(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		auto       bool
		defaults   map[string]string
		topic      string
		partitions int // 0: want an error
		sentinel   error
	}{
		{"auto-create with the default count", true, nil, "events", 1, nil},
		{"auto-create with num.partitions", true, map[string]string{"num.partitions": "4"}, "events", 4, nil},
		{"auto-create off", false, nil, "events", 0, ErrUnknownTopic},
		{"invalid name", true, nil, "no way", 0, ErrInvalidTopic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := testOptions(nil)
			o.AutoCreateTopics, o.DefaultTopicConfig = tc.auto, tc.defaults
			s := mustOpen(t, t.TempDir(), o)
			d, err := s.EnsureTopic(tc.topic)
			if tc.sentinel != nil {
				wantErr(t, err, []error{tc.sentinel})
				return
			}
			noErr(t, err)
			equal(t, "partitions", d.Partitions, tc.partitions)
			again, err := s.EnsureTopic(tc.topic)
			noErr(t, err)
			equal(t, "id on the second call", again.ID, d.ID)
		})
	}

	t.Run("existing topic with auto-create off", func(t *testing.T) {
		t.Parallel()
		o := testOptions(nil)
		o.AutoCreateTopics = false
		s := mustOpen(t, t.TempDir(), o)
		mustCreate(t, s, "t", 2, nil)
		d, err := s.EnsureTopic("t")
		noErr(t, err)
		equal(t, "partitions", d.Partitions, 2)
	})
}

func TestValidateTopic(t *testing.T) {
	t.Parallel()
	o := testOptions(nil)
	o.DefaultTopicConfig = map[string]string{"num.partitions": "3", "retention.ms": "1000"}
	s := mustOpen(t, t.TempDir(), o)
	d, err := s.ValidateTopic("t", DefaultPartitions, map[string]string{"cleanup.policy": "compact"})
	noErr(t, err)
	equal(t, "partitions (num.partitions)", d.Partitions, 3)
	equal(t, "id", d.ID.IsZero(), true)
	c, _ := d.Config("cleanup.policy")
	equal(t, "cleanup.policy", c.Source, SourceTopic)
	c, _ = d.Config("retention.ms")
	equal(t, "retention.ms", c, ConfigEntry{"retention.ms", "1000", SourceBroker})
	if _, err := s.Topic("t"); !errors.Is(err, ErrUnknownTopic) {
		t.Errorf("ValidateTopic created the topic: %v", err)
	}
	_, err = s.ValidateTopic("t", 0, map[string]string{"retention.ms": "x"})
	wantErr(t, err, []error{ErrInvalidPartitions, ErrInvalidConfig}, "0; want 1 to 10000, or -1 for num.partitions")

	created := mustCreate(t, s, "t", DefaultPartitions, nil)
	equal(t, "created partitions (num.partitions)", created.Partitions, 3)
	_, err = s.ValidateTopic("t", 1, nil)
	wantErr(t, err, []error{ErrTopicExists})
}

func TestCreatePartitions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := mustOpen(t, dir, testOptions(nil))
	mustCreate(t, s, "t", 1, map[string]string{"retention.ms": "1000"})
	appendBatch(t, mustPartition(t, s, "t", 0), kv(t, 1, "k", "v"))

	noErr(t, s.CreatePartitions("t", 3))
	d, err := s.Topic("t")
	noErr(t, err)
	equal(t, "partitions", d.Partitions, 3)
	equal(t, "records kept in partition 0", len(readAll(t, mustPartition(t, s, "t", 0))), 1)
	l2 := mustPartition(t, s, "t", 2)
	equal(t, "new partition's retention.ms", l2.Options().RetentionMs, time.Second)
	appendBatch(t, l2, kv(t, 1, "k", "v"))

	for _, tc := range []struct {
		topic    string
		total    int
		sentinel error
		text     string
	}{
		{"t", 3, ErrInvalidPartitions, "it has 3 partitions"},
		{"t", 2, ErrInvalidPartitions, "the new count must be higher, not 2"},
		{"t", MaxPartitions + 1, ErrInvalidPartitions, "want 1 to"},
		{"nope", 5, ErrUnknownTopic, `"nope"`},
	} {
		wantErr(t, s.CreatePartitions(tc.topic, tc.total), []error{tc.sentinel}, tc.text)
	}

	noErr(t, s.Close())
	s = mustOpen(t, dir, testOptions(nil))
	equal(t, "records in partition 2 after reopen", len(readAll(t, mustPartition(t, s, "t", 2))), 1)
}

func TestSetTopicConfig(t *testing.T) {
	t.Parallel()
	o := testOptions(nil)
	o.DefaultTopicConfig = map[string]string{"retention.ms": "7200000"}
	s := mustOpen(t, t.TempDir(), o)
	mustCreate(t, s, "t", 2, map[string]string{"segment.ms": "60000"})
	logs := []*log.Log{mustPartition(t, s, "t", 0), mustPartition(t, s, "t", 1)}

	source := func(key string) ConfigEntry {
		t.Helper()
		d, err := s.Topic("t")
		noErr(t, err)
		c, ok := d.Config(key)
		if !ok {
			t.Fatalf("no config %s", key)
		}
		return c
	}
	equal(t, "retention.ms before", source("retention.ms"), ConfigEntry{"retention.ms", "7200000", SourceBroker})

	noErr(t, s.SetTopicConfig("t", map[string]string{"retention.ms": "1000", "cleanup.policy": "compact,delete"}, nil))
	for _, l := range logs {
		o := l.Options()
		equal(t, "retention.ms applied to the open log", o.RetentionMs, time.Second)
		equal(t, "compact applied", o.Compact && o.Delete, true)
		equal(t, "segment.ms kept", o.SegmentMs, time.Minute)
	}
	equal(t, "retention.ms after set", source("retention.ms"), ConfigEntry{"retention.ms", "1000", SourceTopic})

	noErr(t, s.SetTopicConfig("t", nil, []string{"retention.ms", "segment.ms", "flush.ms"}))
	equal(t, "retention.ms after delete", logs[0].Options().RetentionMs, 2*time.Hour)
	equal(t, "segment.ms after delete", logs[1].Options().SegmentMs, log.DefaultSegmentMs)
	equal(t, "retention.ms source after delete", source("retention.ms").Source, SourceBroker)
	equal(t, "segment.ms source after delete", source("segment.ms"), ConfigEntry{"segment.ms", "604800000", SourceDefault})

	err := s.SetTopicConfig("t",
		map[string]string{"retention.ms": "x", "max.message.bytes": "-5", "bogus": "1"},
		[]string{"retention.ms", "nonsense"})
	wantErr(t, err, []error{ErrInvalidConfig},
		`retention.ms="x": not an integer`, "max.message.bytes = -5", `unknown topic config "bogus"`,
		"retention.ms is both set and deleted", `cannot delete unknown topic config "nonsense"`)
	equal(t, "compact unchanged after a rejected change", logs[0].Options().Compact, true)
	wantErr(t, s.SetTopicConfig("nope", nil, nil), []error{ErrUnknownTopic})
}

// TestRetentionThroughMaintenance drives retention.ms with an injected clock:
// segments whose newest record is older than retention.ms go, and the log
// start offset follows.
func TestRetentionThroughMaintenance(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := mustOpen(t, t.TempDir(), testOptions(clk))
	// segment.bytes=100 puts every batch of one record in its own segment.
	mustCreate(t, s, "t", 1, map[string]string{"retention.ms": "3600000", "segment.bytes": "100"})
	l := mustPartition(t, s, "t", 0)
	old := clk.Now().Add(-3 * time.Hour).UnixMilli()
	for i := range 5 {
		appendBatch(t, l, kv(t, old+int64(i), fmt.Sprint("k", i), "old-value"))
	}
	for i := range 2 {
		appendBatch(t, l, kv(t, clk.Now().UnixMilli(), fmt.Sprint("n", i), "new-value"))
	}
	equal(t, "segments before", l.Segments(), 7)

	st, err := s.RunMaintenance()
	noErr(t, err)
	equal(t, "segments deleted", st.SegmentsDeleted, 5)
	equal(t, "partitions visited", st.Partitions, 1)
	start, hw, end := l.Offsets()
	equal(t, "log start offset", start, int64(5))
	equal(t, "high watermark", hw, int64(7))
	equal(t, "log end offset", end, int64(7))
	if _, err := l.Read(0, 1<<20); !errors.Is(err, log.ErrOffsetOutOfRange) {
		t.Errorf("read below the log start: %v, want log.ErrOffsetOutOfRange", err)
	}
	got := readAll(t, l)
	equal(t, "records left", fmt.Sprint(got), "[5:n0=new-value 6:n1=new-value]")

	// Nothing more is due; then the rest expires, active segment included.
	st, err = s.RunMaintenance()
	noErr(t, err)
	equal(t, "segments deleted on a second pass", st.SegmentsDeleted, 0)
	clk.Advance(2 * time.Hour)
	_, err = s.RunMaintenance()
	noErr(t, err)
	start, _, end = l.Offsets()
	equal(t, "log start after everything expired", start, int64(7))
	equal(t, "log end after everything expired", end, int64(7))
	res := appendBatch(t, l, kv(t, clk.Now().UnixMilli(), "k", "v"))
	equal(t, "next offset", res.BaseOffset, int64(7))
}

// TestCompactionThroughMaintenance: cleanup.policy=compact keeps the newest
// record per key in the inactive segments, and offsets do not move.
func TestCompactionThroughMaintenance(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := mustOpen(t, t.TempDir(), testOptions(clk))
	mustCreate(t, s, "t", 1, map[string]string{"cleanup.policy": "compact", "segment.bytes": "100"})
	l := mustPartition(t, s, "t", 0)
	ts := clk.Now().UnixMilli()
	for round := 1; round <= 4; round++ {
		var pairs []string
		for k := range 5 {
			pairs = append(pairs, fmt.Sprint("k", k), fmt.Sprint("v", round))
		}
		appendBatch(t, l, kv(t, ts, pairs...))
	}
	appendBatch(t, l, kv(t, ts, "tail", "t")) // the active segment, never compacted
	before := readAll(t, l)
	equal(t, "records before", len(before), 21)

	st, err := s.RunMaintenance()
	noErr(t, err)
	equal(t, "records removed", st.Compaction.RecordsRemoved, int64(15))
	if st.Compaction.BytesAfter >= st.Compaction.BytesBefore {
		t.Errorf("compaction did not shrink the log: %+v", st.Compaction)
	}
	got := readAll(t, l)
	want := append(slices.Clone(before[15:20]), before[20])
	equal(t, "records after", fmt.Sprint(got), fmt.Sprint(want))
	start, _, end := l.Offsets()
	equal(t, "log start (unchanged)", start, int64(0))
	equal(t, "log end (unchanged)", end, int64(21))
	res := appendBatch(t, l, kv(t, ts, "k0", "v5"))
	equal(t, "next offset", res.BaseOffset, int64(21))
}

func TestMaintenanceOnDefaultTopicIsQuiet(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, t.TempDir(), testOptions(nil))
	mustCreate(t, s, "t", 2, nil)
	appendBatch(t, mustPartition(t, s, "t", 0), kv(t, time.Now().UnixMilli(), "k", "v"))
	st, err := s.RunMaintenance()
	noErr(t, err)
	equal(t, "stats", fmt.Sprint(st.Partitions, st.SegmentsDeleted, st.Compaction), fmt.Sprint(2, 0, log.CompactStats{}))
}

func TestJanitorRunsInBackground(t *testing.T) {
	t.Parallel()
	clk := newClock()
	o := testOptions(clk)
	o.BackgroundInterval, o.RetentionCheckInterval = 5*time.Millisecond, 0
	s := mustOpen(t, t.TempDir(), o)
	mustCreate(t, s, "t", 1, map[string]string{"retention.ms": "1000", "segment.bytes": "100"})
	l := mustPartition(t, s, "t", 0)
	for i := range 3 {
		appendBatch(t, l, kv(t, clk.Now().UnixMilli(), fmt.Sprint("k", i), "v"))
	}
	clk.Advance(time.Minute)
	appendBatch(t, l, kv(t, clk.Now().UnixMilli(), "k", "v"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if start, _, _ := l.Offsets(); start == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the janitor did not apply retention within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	noErr(t, s.Close())
}

// The janitor applies retention every RetentionCheckInterval (Kafka's
// log.retention.check.interval.ms, 5 minutes by default), not at each of
// its passes: data past retention.ms stays until the check is due.
// Retention every 5 s deleted generated data before pipelines read it.
func TestJanitorRetentionCheckInterval(t *testing.T) {
	// Not parallel: the hook is the package's.
	passes := make(chan bool, 100)
	var watched *Store
	var mu sync.Mutex
	testHookJanitor = func(s *Store, retention bool) {
		mu.Lock()
		defer mu.Unlock()
		if s == watched {
			select {
			case passes <- retention:
			default:
			}
		}
	}
	t.Cleanup(func() { testHookJanitor = nil })
	for _, c := range []struct {
		name     string
		interval time.Duration
	}{{"due in an hour", time.Hour}, {"due at every pass", 0}} {
		t.Run(c.name, func(t *testing.T) {
			clk := newClock()
			o := testOptions(clk)
			s := mustOpen(t, t.TempDir(), o)
			mustCreate(t, s, "t", 1, map[string]string{"retention.ms": "1000", "segment.bytes": "100"})
			l := mustPartition(t, s, "t", 0)
			for i := range 3 {
				appendBatch(t, l, kv(t, clk.Now().UnixMilli(), fmt.Sprint("k", i), "v"))
			}
			clk.Advance(time.Minute)
			appendBatch(t, l, kv(t, clk.Now().UnixMilli(), "k", "v"))
			noErr(t, s.Close())

			// Reopened with the janitor running every millisecond.
			o.BackgroundInterval, o.RetentionCheckInterval = time.Millisecond, c.interval
			mu.Lock()
			s = mustOpen(t, s.dir, o)
			watched = s
			mu.Unlock()
			defer s.Close()
			l = mustPartition(t, s, "t", 0)
			for range 10 {
				retention := <-passes
				start, _, _ := l.Offsets()
				switch {
				case c.interval > 0 && (retention || start != 0):
					t.Fatalf("retention ran (%v) before it was due: log start %d", retention, start)
				case c.interval == 0 && start != 3:
					t.Fatalf("a pass with retention due left the log start at %d, want 3", start)
				}
			}
		})
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	t.Parallel()
	s, err := Open(t.TempDir(), nil) // DefaultOptions: the janitor runs
	noErr(t, err)
	mustCreate(t, s, "t", 1, nil)
	l := mustPartition(t, s, "t", 0)
	noErr(t, s.Close())
	noErr(t, s.Close())

	_, err = s.Partition("t", 0)
	wantErr(t, err, []error{ErrClosed})
	_, err = s.CreateTopic("u", 1, nil)
	wantErr(t, err, []error{ErrClosed})
	_, err = s.Topics()
	wantErr(t, err, []error{ErrClosed})
	_, err = s.RunMaintenance()
	wantErr(t, err, []error{ErrClosed})
	wantErr(t, s.DeleteTopic("t"), []error{ErrClosed})
	wantErr(t, s.SetTopicConfig("t", nil, nil), []error{ErrClosed})
	wantErr(t, s.CreatePartitions("t", 2), []error{ErrClosed})
	if _, err := l.Append(kv(t, 1, "k", "v")); !errors.Is(err, log.ErrClosed) {
		t.Errorf("append after Close: %v", err)
	}
}

func TestDirectoryIsLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := mustOpen(t, dir, testOptions(nil))
	_, err := Open(dir, testOptions(nil))
	wantErr(t, err, []error{ErrLocked}, ".lock")
	noErr(t, s.Close())
	mustOpen(t, dir, testOptions(nil))
}

func TestInvalidOptions(t *testing.T) {
	t.Parallel()
	o := testOptions(nil)
	o.DefaultTopicConfig = map[string]string{"num.partitions": "0", "retention.ms": "x", "bogus": "1"}
	o.BackgroundInterval = -time.Second
	_, err := Open(t.TempDir(), o)
	wantErr(t, err, []error{ErrInvalidConfig},
		`num.partitions="0"`, `retention.ms="x"`, `unknown topic config "bogus"`, "BackgroundInterval")
}

// TestConfigValuesRoundTrip checks that the built-in defaults shown by
// Topic cover every config key and parse back to the defaults.
func TestConfigValuesRoundTrip(t *testing.T) {
	t.Parallel()
	vals := builtinDefaults()
	for _, k := range log.ConfigKeys {
		if _, ok := vals[k]; !ok {
			t.Errorf("no default value shown for %s", k)
		}
	}
	equal(t, "number of defaults", len(vals), len(log.ConfigKeys))
	o, err := log.FromConfig(vals)
	noErr(t, err)
	o.Logger, o.Now = nil, nil
	want := *new(log.Options).EnsureDefaults()
	want.Logger, want.Now = nil, nil
	if !reflect.DeepEqual(o, want) {
		t.Errorf("defaults do not round-trip:\n got %+v\nwant %+v", o, want)
	}
}

func TestParsePartitionDir(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dir   string
		topic string
		p     int
		ok    bool
	}{
		{"orders-0", "orders", 0, true},
		{"a-1-2", "a-1", 2, true},
		{"x-100", "x", 100, true},
		{"x-10-0", "x-10", 0, true},
		{"t.a_b-7", "t.a_b", 7, true},
		{"orders", "", 0, false},
		{"orders-", "", 0, false},
		{"-1", "", 0, false},
		{"orders-01", "", 0, false},
		{"orders-+1", "", 0, false},
		{"orders-0.abc-delete", "", 0, false},
		{"lost+found", "", 0, false},
	} {
		topic, p, ok := parsePartitionDir(tc.dir)
		if topic != tc.topic || p != tc.p || ok != tc.ok {
			t.Errorf("parsePartitionDir(%q) = %q, %d, %v; want %q, %d, %v", tc.dir, topic, p, ok, tc.topic, tc.p, tc.ok)
		}
	}
	long := strings.Repeat("t", MaxTopicNameLength)
	if n := len(retiredDir(long, 9999, deleteSuffix)); n > maxFileName {
		t.Errorf("retired directory name of %d bytes", n)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, t.TempDir(), testOptions(nil))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	report := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() { // maintenance all along
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			default:
				if _, err := s.RunMaintenance(); err != nil {
					report(err)
				}
			}
		}
	}()
	proto := kv(t, 1, "k", "v") // Append rewrites its argument: each append gets a copy
	ids := make([]UUID, 4)
	for w := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			name := fmt.Sprint("t", w)
			err := func() error {
				if _, err := s.CreateTopic(name, 2, nil); err != nil {
					return err
				}
				for i := range 20 {
					l, err := s.Partition(name, i%2)
					if err != nil {
						return err
					}
					if _, err := l.Append(slices.Clone(proto)); err != nil {
						return err
					}
					if _, err := s.Topics(); err != nil {
						return err
					}
				}
				if err := s.SetTopicConfig(name, map[string]string{"retention.ms": "100000"}, nil); err != nil {
					return err
				}
				if err := s.CreatePartitions(name, 3); err != nil {
					return err
				}
				return s.DeleteTopic(name)
			}()
			if err != nil {
				report(fmt.Errorf("worker %d: %w", w, err))
			}
		}()
		go func() { // everyone auto-creates the same topic
			defer wg.Done()
			d, err := s.EnsureTopic("shared")
			if err != nil {
				report(err)
				return
			}
			ids[w] = d.ID
		}()
	}
	wg.Wait()
	close(stop)
	<-stopped
	for _, err := range errs {
		t.Error(err)
	}
	for _, id := range ids {
		equal(t, "id of the auto-created topic", id, ids[0])
	}
	list, err := s.Topics()
	noErr(t, err)
	equal(t, "topics left", len(list), 1)
}
