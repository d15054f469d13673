package compattest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/broker"
)

// Client runs are bounded by this; every script also has its own, shorter
// deadlines for what it waits for.
const clientTimeout = 90 * time.Second

const installHint = "install them with `apt-get install kcat python3-kafka python3-confluent-kafka " +
	"python3-msgpack python3-snappy python3-lz4 python3-xxhash` (Debian 12), " +
	"or set RUNNEL_TEST_PYTHON to a python3 that imports kafka and confluent_kafka"

// TestMain raises -test.parallel (GOMAXPROCS by default) to 8 unless it
// is given: the tests mostly wait, for group rebalances (3s of
// group.initial.rebalance.delay.ms each, Kafka's default) and for the
// clients, not for CPU.
func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		if err := flag.Set("test.parallel", "8"); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}

// python is the interpreter that sees the Debian client packages; the
// python3 first on PATH may be another one.
func python() string {
	if p := os.Getenv("RUNNEL_TEST_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

var (
	kcatOnce, pyOnce sync.Once
	kcatErr, pyErr   error
)

// missing fails the test under CI (CI=true), where the clients must be
// installed (.ci/run installs them), and skips it loudly elsewhere.
func missing(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but a Kafka client is missing: %v; %s", err, installHint)
	}
	t.Skipf("\n!!! SKIPPED: a Kafka client is missing: %v\n!!! These compatibility tests drive real clients against runnel; %s.\n", err, installHint)
}

func needKcat(t *testing.T) {
	t.Helper()
	kcatOnce.Do(func() { _, kcatErr = exec.LookPath("kcat") })
	if kcatErr != nil {
		missing(t, kcatErr)
	}
}

func needPython(t *testing.T) {
	t.Helper()
	pyOnce.Do(func() {
		out, err := exec.Command(python(), "-c", "import kafka, confluent_kafka").CombinedOutput()
		if err != nil {
			pyErr = fmt.Errorf("%s -c 'import kafka, confluent_kafka': %v: %s", python(), err, bytes.TrimSpace(out))
		}
	})
	if pyErr != nil {
		missing(t, pyErr)
	}
}

func startBroker(t *testing.T, opts ...broker.Opt) *broker.Broker {
	t.Helper()
	b, err := broker.New(append([]broker.Opt{broker.DataDir(t.TempDir()), broker.ListenAddr("127.0.0.1:0")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// name is a topic or group name unique to the test.
func name(t *testing.T, suffix string) string {
	r := strings.NewReplacer("/", ".", "#", ".", " ", "_")
	return strings.ToLower(r.Replace(t.Name())) + "-" + suffix
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	t.Cleanup(cancel)
	return ctx
}

// runPy runs testdata/SCRIPT MODE BOOTSTRAP ARGS-AS-JSON and decodes the
// JSON object on the last line of its stdout into out.
func runPy(t *testing.T, b *broker.Broker, script, mode string, args, out any) {
	t.Helper()
	needPython(t)
	js, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctxT(t), python(), "-B", filepath.Join("testdata", script), mode, b.Addr(), string(js))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	t.Logf("%s %s %s: %v", script, mode, js, time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("%s %s %s: %v\nstdout:\n%s\nstderr (RUNNEL_COMPAT_DEBUG=1 adds the clients' debug logs):\n%s",
			script, mode, js, err, stdout.Bytes(), tail(stderr.Bytes(), 8000))
	}
	lines := bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n"))
	if err := json.Unmarshal(lines[len(lines)-1], out); err != nil {
		t.Fatalf("%s %s: result: %v\nstdout:\n%s\nstderr:\n%s", script, mode, err, stdout.Bytes(), tail(stderr.Bytes(), 8000))
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return append([]byte("...\n"), b[len(b)-n:]...)
	}
	return b
}

// kcat runs kcat -b BROKER ARGS... with stdin and returns its stdout.
func kcat(t *testing.T, b *broker.Broker, stdin string, args ...string) string {
	t.Helper()
	needKcat(t)
	cmd := exec.CommandContext(ctxT(t), "kcat", append([]string{"-b", b.Addr()}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %q: %v\nstdout:\n%s\nstderr:\n%s", args, err, stdout.Bytes(), tail(stderr.Bytes(), 8000))
	}
	return stdout.String()
}

// ---- the broker's side, seen with franz-go

func newClient(t *testing.T, b *broker.Broker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Addr())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func admin(t *testing.T, b *broker.Broker) *kadm.Client {
	return kadm.NewClient(newClient(t, b))
}

func createTopic(t *testing.T, b *broker.Broker, topic string, partitions int32) {
	t.Helper()
	resp, err := admin(t, b).CreateTopic(ctxT(t), partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
}

// produce writes the records, each to its Partition, and returns them
// with their offsets.
func produce(t *testing.T, b *broker.Broker, recs ...*kgo.Record) []*kgo.Record {
	t.Helper()
	cl := newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return recs
}

// values makes n records for topic, record i going to partition
// i%partitions with value "PREFIX-i".
func values(topic string, partitions, n int, prefix string) []*kgo.Record {
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % partitions), Value: fmt.Appendf(nil, "%s-%d", prefix, i)})
	}
	return recs
}

func endOffsets(t *testing.T, b *broker.Broker, topics ...string) map[string]map[int32]int64 {
	t.Helper()
	lo, err := admin(t, b).ListEndOffsets(ctxT(t), topics...)
	if err == nil {
		err = lo.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	m := map[string]map[int32]int64{}
	lo.Each(func(o kadm.ListedOffset) {
		if m[o.Topic] == nil {
			m[o.Topic] = map[int32]int64{}
		}
		m[o.Topic][o.Partition] = o.Offset
	})
	return m
}

// committed returns the group's committed offsets, as the broker has them.
func committed(t *testing.T, b *broker.Broker, group string) map[string]map[int32]int64 {
	t.Helper()
	resp, err := admin(t, b).FetchOffsets(ctxT(t), group)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", group, err)
	}
	m := map[string]map[int32]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		if m[o.Topic] == nil {
			m[o.Topic] = map[int32]int64{}
		}
		m[o.Topic][o.Partition] = o.At
	})
	return m
}

// readAll reads every record of the topics back, in partition order.
func readAll(t *testing.T, b *broker.Broker, topics ...string) []rec {
	t.Helper()
	ends := endOffsets(t, b, topics...)
	parts := map[string]map[int32]kgo.Offset{}
	left := 0
	for topic, ps := range ends {
		parts[topic] = map[int32]kgo.Offset{}
		for p, end := range ps {
			parts[topic][p] = kgo.NewOffset().AtStart()
			left += int(end)
		}
	}
	var got []rec
	if left > 0 {
		cl := newClient(t, b, kgo.ConsumePartitions(parts))
		ctx := ctxT(t)
		for len(got) < left {
			fs := cl.PollFetches(ctx)
			if err := fs.Err(); err != nil {
				t.Fatalf("read back %v: %v (have %d of %d records)", topics, err, len(got), left)
			}
			fs.EachRecord(func(r *kgo.Record) { got = append(got, fromKgo(r)) })
		}
	}
	sortRecs(got)
	return got
}

// ---- records as the scripts print them

type rec struct {
	Topic     string     `json:"topic"`
	Partition int32      `json:"partition"`
	Offset    int64      `json:"offset"`
	Key       *string    `json:"key"`
	Value     *string    `json:"value"`
	Headers   [][]string `json:"headers"`
}

func (r rec) String() string {
	s := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return fmt.Sprintf("%q", *p)
	}
	return fmt.Sprintf("%s[%d]@%d key=%s value=%s headers=%q", r.Topic, r.Partition, r.Offset, s(r.Key), s(r.Value), r.Headers)
}

func fromKgo(r *kgo.Record) rec {
	o := rec{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Headers: [][]string{}}
	if r.Key != nil {
		k := string(r.Key)
		o.Key = &k
	}
	if r.Value != nil {
		v := string(r.Value)
		o.Value = &v
	}
	for _, h := range r.Headers {
		o.Headers = append(o.Headers, []string{h.Key, string(h.Value)})
	}
	return o
}

func fromKgos(rs []*kgo.Record) []rec {
	var out []rec
	for _, r := range rs {
		out = append(out, fromKgo(r))
	}
	sortRecs(out)
	return out
}

func sortRecs(rs []rec) {
	slices.SortFunc(rs, func(a, b rec) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
}

// sameRecs compares records; got is first checked to be in offset order
// within each partition, as a consumer must deliver them, then sorted.
func sameRecs(t *testing.T, what string, got, want []rec) {
	t.Helper()
	last := map[string]int64{}
	for _, r := range got {
		k := fmt.Sprintf("%s[%d]", r.Topic, r.Partition)
		if o, ok := last[k]; ok && r.Offset <= o {
			t.Errorf("%s: %s delivered after offset %d of its partition", what, r, o)
		}
		last[k] = r.Offset
	}
	got = slices.Clone(got)
	sortRecs(got)
	g, w := fmt.Sprint(got), fmt.Sprint(want)
	if g != w {
		t.Errorf("%s:\n got %d records:\n  %s\nwant %d records:\n  %s", what, len(got), strings.Join(strs(got), "\n  "), len(want), strings.Join(strs(want), "\n  "))
	}
}

func strs(rs []rec) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out
}

func str(s string) *string { return &s }

// tp is a partition (and offset) as the scripts print them.
type tp struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Offset    *int64  `json:"offset"`
	Error     *string `json:"error"`
}

func (p tp) String() string {
	s := fmt.Sprintf("%s[%d]", p.Topic, p.Partition)
	if p.Offset != nil {
		s += fmt.Sprintf("@%d", *p.Offset)
	}
	if p.Error != nil {
		s += " error=" + *p.Error
	}
	return s
}

func tps(topic string, offsets ...int64) []tp {
	var out []tp
	for i, o := range offsets {
		out = append(out, tp{Topic: topic, Partition: int32(i), Offset: &o})
	}
	return out
}

// equal compares got and want as JSON (pointers followed, map keys
// sorted).
func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// offsetsAt is what a consumer has consumed after the first n records:
// per partition, the offset after the last one; -1001 (librdkafka's
// OFFSET_INVALID) for partitions nothing came from yet.
func offsetsAt(topic string, partitions int, recs []rec, n int) []tp {
	offs := make([]int64, partitions)
	for i := range offs {
		offs[i] = -1001
	}
	for _, r := range recs[:min(n, len(recs))] {
		offs[r.Partition] = r.Offset + 1
	}
	return tps(topic, offs...)
}

// ---- kcat

// TestKcatConsoleProduceConsume: kafka-console-producer.sh and
// kafka-console-consumer.sh --from-beginning, done with kcat: -P with a
// key delimiter (-K) and headers (-H), -C from the beginning, a given
// offset, relative to the end and the end, -e, -c, -f and -J.
func TestKcatConsoleProduceConsume(t *testing.T) {
	t.Parallel()
	needKcat(t)
	b := startBroker(t)
	topic := name(t, "test")
	kcat(t, b, "k1:v1\nk2:v2\n:no-key\nk4:\n", "-P", "-t", topic, "-K:", "-H", "h1=v1", "-H", "h2=v2")
	h := [][]string{{"h1", "v1"}, {"h2", "v2"}}
	// An empty key or value is empty, not null, in kcat's -K mode.
	sameRecs(t, "produced by kcat -P -K:", readAll(t, b, topic), []rec{
		{topic, 0, 0, str("k1"), str("v1"), h},
		{topic, 0, 1, str("k2"), str("v2"), h},
		{topic, 0, 2, str(""), str("no-key"), h},
		{topic, 0, 3, str("k4"), str(""), h},
	})

	format := []string{"-f", `%t %p %o %k=%s %h\n`}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"beginning", []string{"-o", "beginning", "-e"}, "0 k1=v1 h1=v1,h2=v2\n1 k2=v2 h1=v1,h2=v2\n2 =no-key h1=v1,h2=v2\n3 k4= h1=v1,h2=v2\n"},
		{"offset", []string{"-o", "2", "-e"}, "2 =no-key h1=v1,h2=v2\n3 k4= h1=v1,h2=v2\n"},
		{"from-end", []string{"-o", "-1", "-e"}, "3 k4= h1=v1,h2=v2\n"},
		{"end", []string{"-o", "end", "-e"}, ""},
		{"count", []string{"-o", "beginning", "-c", "2"}, "0 k1=v1 h1=v1,h2=v2\n1 k2=v2 h1=v1,h2=v2\n"},
	} {
		got := kcat(t, b, "", append(append([]string{"-C", "-t", topic, "-q"}, c.args...), format...)...)
		want := ""
		for _, l := range strings.SplitAfter(c.want, "\n") {
			if l != "" {
				want += topic + " 0 " + l
			}
		}
		equal(t, "kcat -C "+c.name, got, want)
	}

	// -J: one JSON envelope per message.
	type envelope struct {
		Topic     string   `json:"topic"`
		Partition int32    `json:"partition"`
		Offset    int64    `json:"offset"`
		TSType    string   `json:"tstype"`
		TS        int64    `json:"ts"`
		Broker    int32    `json:"broker"`
		Headers   []string `json:"headers"`
		Key       *string  `json:"key"`
		Payload   *string  `json:"payload"`
	}
	var envs []envelope
	for _, l := range strings.Split(strings.TrimSpace(kcat(t, b, "", "-C", "-t", topic, "-o", "beginning", "-e", "-J")), "\n") {
		var e envelope
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("kcat -J line %q: %v", l, err)
		}
		envs = append(envs, e)
	}
	if len(envs) != 4 {
		t.Fatalf("kcat -J: %d envelopes, want 4", len(envs))
	}
	now := time.Now().UnixMilli()
	for i, e := range envs {
		if e.Topic != topic || e.Partition != 0 || e.Offset != int64(i) || e.TSType != "create" || e.Broker != 0 ||
			e.TS < now-60_000 || e.TS > now || fmt.Sprint(e.Headers) != "[h1 v1 h2 v2]" {
			t.Errorf("kcat -J envelope %d: %+v", i, e)
		}
	}
	equal(t, "kcat -J keys/payloads", fmt.Sprint(*envs[0].Key, *envs[0].Payload, *envs[3].Key, *envs[3].Payload), "k1v1k4")
}

// TestKcatConsumeFromNow: kafka-console-consumer.sh without
// --from-beginning reads what is produced after it started: kcat -o end,
// waiting at the end of the partition until a record comes.
func TestKcatConsumeFromNow(t *testing.T) {
	t.Parallel()
	needKcat(t)
	b := startBroker(t)
	topic := name(t, "test")
	createTopic(t, b, topic, 1)
	produce(t, b, values(topic, 1, 3, "old")...)

	cmd := exec.CommandContext(ctxT(t), "kcat", "-b", b.Addr(), "-C", "-t", topic, "-o", "end", "-c", "1", "-f", `%o %s\n`)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// kcat says when it is at the end; only then is "new" produced.
	sc := bufio.NewScanner(stderr)
	var log []string
	for sc.Scan() {
		log = append(log, sc.Text())
		if strings.Contains(sc.Text(), "Reached end of topic "+topic+" [0] at offset 3") {
			break
		}
	}
	produce(t, b, &kgo.Record{Topic: topic, Value: []byte("new")})
	go io.Copy(io.Discard, stderr)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("kcat -o end -c 1: %v; stderr:\n%s", err, strings.Join(log, "\n"))
	}
	equal(t, "kcat -o end -c 1", stdout.String(), "3 new\n")
}

// TestKcatMetadata: kafka-topics.sh --list / --describe, done with kcat -L
// (and -J): one broker, leader, replica and ISR of every partition.
func TestKcatMetadata(t *testing.T) {
	t.Parallel()
	needKcat(t)
	b := startBroker(t)
	topic := name(t, "first-topic")
	other := name(t, "other")
	createTopic(t, b, topic, 3)
	createTopic(t, b, other, 1)

	text := kcat(t, b, "", "-L", "-t", topic)
	want := fmt.Sprintf(`Metadata for %s (from broker 0: %s/0):
 1 brokers:
  broker 0 at %s (controller)
 1 topics:
  topic "%s" with 3 partitions:
    partition 0, leader 0, replicas: 0, isrs: 0
    partition 1, leader 0, replicas: 0, isrs: 0
    partition 2, leader 0, replicas: 0, isrs: 0
`, topic, b.Addr(), b.Addr(), topic)
	equal(t, "kcat -L -t", text, want)

	type id struct {
		ID int32 `json:"id"`
	}
	type kcatBroker struct {
		ID   int32  `json:"id"`
		Name string `json:"name"`
	}
	type kcatPartition struct {
		Partition int32 `json:"partition"`
		Leader    int32 `json:"leader"`
		Replicas  []id  `json:"replicas"`
		ISRs      []id  `json:"isrs"`
	}
	var md struct {
		Controller int32        `json:"controllerid"`
		Brokers    []kcatBroker `json:"brokers"`
		Topics     []struct {
			Topic      string          `json:"topic"`
			Error      *string         `json:"error"`
			Partitions []kcatPartition `json:"partitions"`
		} `json:"topics"`
	}
	if err := json.Unmarshal([]byte(kcat(t, b, "", "-L", "-J")), &md); err != nil {
		t.Fatal(err)
	}
	equal(t, "kcat -L -J controller", md.Controller, 0)
	equal(t, "kcat -L -J brokers", md.Brokers, []kcatBroker{{0, b.Addr()}})
	got := map[string][]kcatPartition{}
	for _, tm := range md.Topics {
		if tm.Error != nil {
			t.Errorf("kcat -L -J: topic %s: error %s", tm.Topic, *tm.Error)
		}
		got[tm.Topic] = tm.Partitions
	}
	p := func(n int32) kcatPartition { return kcatPartition{n, 0, []id{{0}}, []id{{0}}} }
	equal(t, "kcat -L -J "+topic, got[topic], []kcatPartition{p(0), p(1), p(2)})
	equal(t, "kcat -L -J "+other, got[other], []kcatPartition{p(0)})
}

// TestKcatGroup: kcat -G (a balanced consumer group) -o beginning reads
// everything and commits; a second run without -o resumes at the
// committed offsets.
func TestKcatGroup(t *testing.T) {
	t.Parallel()
	needKcat(t)
	b := startBroker(t)
	topic, group := name(t, "test"), name(t, "group")
	createTopic(t, b, topic, 2)
	first := produce(t, b, values(topic, 2, 6, "first")...)
	format := []string{"-f", `%t %p %o %s\n`, "-q", "-e"}

	parse := func(out string) []rec {
		var rs []rec
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var r rec
			var v string
			if l == "" {
				continue
			}
			if _, err := fmt.Sscanf(l, "%s %d %d %s", &r.Topic, &r.Partition, &r.Offset, &v); err != nil {
				t.Fatalf("kcat -G line %q: %v", l, err)
			}
			r.Value, r.Headers = &v, [][]string{}
			rs = append(rs, r)
		}
		return rs
	}
	// A new group starts at -o (librdkafka's auto.offset.reset default
	// is latest); without -o, at the committed offsets.
	sameRecs(t, "kcat -G -o beginning, first run", parse(kcat(t, b, "", append([]string{"-G", group, topic, "-o", "beginning"}, format...)...)), fromKgos(first))
	equal(t, "committed after the first run", committed(t, b, group), map[string]map[int32]int64{topic: {0: 3, 1: 3}})

	second := produce(t, b, values(topic, 2, 3, "second")...)
	sameRecs(t, "kcat -G, second run", parse(kcat(t, b, "", append([]string{"-G", group, topic}, format...)...)), fromKgos(second))
	equal(t, "committed after the second run", committed(t, b, group), map[string]map[int32]int64{topic: {0: 5, 1: 4}})
}

// TestKcatQueryOffsets: kcat -Q, the offset of a timestamp (ListOffsets),
// and the logical offsets -1 (end) and -2 (beginning).
func TestKcatQueryOffsets(t *testing.T) {
	t.Parallel()
	needKcat(t)
	b := startBroker(t)
	topic := name(t, "test")
	createTopic(t, b, topic, 1)
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	var recs []*kgo.Record
	for i := range 5 {
		recs = append(recs, &kgo.Record{Topic: topic, Value: []byte("v"), Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	produce(t, b, recs...)
	q := func(ts int64) string {
		return kcat(t, b, "", "-Q", "-t", fmt.Sprintf("%s:0:%d", topic, ts))
	}
	ms := base.UnixMilli()
	equal(t, "kcat -Q exact", q(ms+2000), fmt.Sprintf("%s [0] offset 2\n", topic))
	equal(t, "kcat -Q between", q(ms+2500), fmt.Sprintf("%s [0] offset 3\n", topic))
	equal(t, "kcat -Q after the last", q(ms+60_000), fmt.Sprintf("%s [0] offset -1\n", topic))
	equal(t, "kcat -Q -1 (end)", q(-1), fmt.Sprintf("%s [0] offset 5\n", topic))
	equal(t, "kcat -Q -2 (beginning)", q(-2), fmt.Sprintf("%s [0] offset 0\n", topic))
}

// ---- confluent-kafka (librdkafka)

type deliveryReport struct {
	Err       *string `json:"err"`
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Offset    int64   `json:"offset"`
	Key       *string `json:"key"`
	Value     *string `json:"value"`
}

// TestConfluentProduceSeed: the Chinese post's Producer, to a topic that
// does not exist yet (auto-created): produce() without and with a
// delivery callback, poll(1), flush().
func TestConfluentProduceSeed(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := startBroker(t)
	topic := "FREE_TOPIC_FOR_TEST-" + name(t, "x")
	var res struct {
		Reports []deliveryReport `json:"reports"`
		Left    int              `json:"left"`
	}
	runPy(t, b, "ck_produce.py", "seed", map[string]any{"topic": topic}, &res)
	equal(t, "flush() left", res.Left, 0)
	equal(t, "delivery reports (acked)", res.Reports, []deliveryReport{{nil, topic, 0, 1, nil, str("test value")}})
	sameRecs(t, "records", readAll(t, b, topic), []rec{
		{topic, 0, 0, str("key"), str("value"), [][]string{}},
		{topic, 0, 1, nil, str("test value"), [][]string{}},
		{topic, 0, 2, str("key"), str("new msg"), [][]string{}},
	})
}

// TestConfluentProduceKeyed: keyed messages with headers and a delivery
// callback each, over 3 partitions, then a tombstone: every report is a
// success whose partition and offset hold that very record, and one key
// always goes to one partition.
func TestConfluentProduceKeyed(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := startBroker(t)
	topic := name(t, "keyed")
	createTopic(t, b, topic, 3)
	var res struct {
		Reports []deliveryReport `json:"reports"`
		Left    int              `json:"left"`
	}
	const n = 40
	runPy(t, b, "ck_produce.py", "keyed", map[string]any{"topic": topic, "n": n, "keys": 7}, &res)
	if len(res.Reports) != n+1 || res.Left != 0 {
		t.Fatalf("%d delivery reports, %d left; want %d, 0", len(res.Reports), res.Left, n+1)
	}
	// Reports come per batch, so per partition, not in produce order.
	var want []rec
	keyPart := map[string]int32{}
	values := map[string]bool{}
	for _, r := range res.Reports {
		if r.Err != nil || r.Topic != topic || r.Key == nil {
			t.Fatalf("delivery report %+v", r)
		}
		if p, ok := keyPart[*r.Key]; ok && p != r.Partition {
			t.Errorf("key %s went to partitions %d and %d", *r.Key, p, r.Partition)
		}
		keyPart[*r.Key] = r.Partition
		h := [][]string{}
		if r.Value != nil {
			values[*r.Value] = true
			h = [][]string{{"i", strings.TrimPrefix(*r.Value, "v")}}
		} else if *r.Key != "k0" {
			t.Errorf("tombstone report for key %s, want k0", *r.Key)
		}
		want = append(want, rec{topic, r.Partition, r.Offset, r.Key, r.Value, h})
	}
	for i := range n {
		if !values[fmt.Sprint("v", i)] {
			t.Errorf("no delivery report for v%d", i)
		}
	}
	if len(keyPart) < 2 {
		t.Errorf("7 keys all went to one partition: %v", keyPart)
	}
	sortRecs(want)
	sameRecs(t, "records at the reported offsets", readAll(t, b, topic), want)
}

type ckConsumeResult struct {
	Records     []rec  `json:"records"`
	Assigned    [][]tp `json:"assigned"`
	Committed   []tp   `json:"committed"`
	SyncResults [][]tp `json:"sync_results"`
	First       []any  `json:"first"`
	Commits     []struct {
		Err     *string `json:"err"`
		Offsets []tp    `json:"offsets"`
	} `json:"commits"`
}

// TestConfluentGroupAutoCommit: the first Chinese post's consumer:
// group.id, enable.auto.commit, default.topic.config {auto.offset.reset:
// smallest}, subscribe(), poll(); close() commits what it read.
func TestConfluentGroupAutoCommit(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := startBroker(t)
	topic, group := name(t, "Topic"), name(t, "test")
	createTopic(t, b, topic, 3)
	want := fromKgos(produce(t, b, values(topic, 3, 12, "m")...))
	var res ckConsumeResult
	runPy(t, b, "ck_consume.py", "autocommit", map[string]any{"topics": []string{topic}, "group": group, "n": 12, "parts": 3}, &res)
	sameRecs(t, "consumed", res.Records, want)
	equal(t, "assignments", res.Assigned, [][]tp{{{topic, 0, i64(-1001), nil}, {topic, 1, i64(-1001), nil}, {topic, 2, i64(-1001), nil}}})
	equal(t, "committed by close()", committed(t, b, group), map[string]map[int32]int64{topic: {0: 4, 1: 4, 2: 4}})
}

func i64(v int64) *int64 { return &v }

// TestConfluentGroupSyncCommit: the second Chinese post's synchronous
// commits: enable.auto.commit false, commit(asynchronous=False) every 10
// messages; a second consumer of the group resumes at the committed
// offsets.
func TestConfluentGroupSyncCommit(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := startBroker(t)
	topic, group := name(t, "topic"), name(t, "foo")
	createTopic(t, b, topic, 2)
	all := fromKgos(produce(t, b, values(topic, 2, 25, "m")...))
	var res ckConsumeResult
	args := map[string]any{"topics": []string{topic}, "group": group, "n": 25, "parts": 2, "every": 10}
	runPy(t, b, "ck_consume.py", "sync", args, &res)
	sameRecs(t, "first run", res.Records, all)
	equal(t, "commit(asynchronous=False) results", res.SyncResults,
		[][]tp{offsetsAt(topic, 2, res.Records, 10), offsetsAt(topic, 2, res.Records, 20)})
	at20 := offsetsAt(topic, 2, res.Records, 20)
	equal(t, "committed()", res.Committed, at20)
	want := map[string]map[int32]int64{topic: {}}
	var rest []rec
	for _, p := range at20 {
		want[topic][p.Partition] = *p.Offset
		for _, r := range all {
			if r.Partition == p.Partition && r.Offset >= *p.Offset {
				rest = append(rest, r)
			}
		}
	}
	equal(t, "committed on the broker", committed(t, b, group), want)

	more := fromKgos(produce(t, b, values(topic, 2, 4, "more")...))
	rest = append(rest, more...)
	sortRecs(rest)
	// The post's at-most-once form: a synchronous commit per message.
	args["n"], args["every"] = len(rest), 1
	runPy(t, b, "ck_consume.py", "sync", args, &res)
	sameRecs(t, "second run (from the committed offsets)", res.Records, rest)
	equal(t, "commits of the second run", len(res.SyncResults), len(rest))
	equal(t, "committed after the second run", committed(t, b, group), map[string]map[int32]int64{topic: {0: 15, 1: 14}})
}

// TestConfluentAutoCommitInterval: the English post's at-most-once setup,
// enable.auto.commit with a small auto.commit.interval.ms: the offsets
// are committed while the consumer runs, not only by close().
func TestConfluentAutoCommitInterval(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := startBroker(t)
	topic, group := name(t, "topic"), name(t, "g")
	createTopic(t, b, topic, 2)
	want := fromKgos(produce(t, b, values(topic, 2, 9, "m")...))
	var res ckConsumeResult
	runPy(t, b, "ck_consume.py", "interval", map[string]any{"topics": []string{topic}, "group": group, "n": 9, "parts": 2, "interval": 100}, &res)
	sameRecs(t, "consumed", res.Records, want)
	equal(t, "committed() before close()", res.Committed, tps(topic, 5, 4))
	equal(t, "committed on the broker", committed(t, b, group), map[string]map[int32]int64{topic: {0: 5, 1: 4}})
}

// TestConfluentGroupAsyncCommit: commit(asynchronous=True) and the
// on_commit callback of the consumer configuration.
func TestConfluentGroupAsyncCommit(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := startBroker(t)
	topic, group := name(t, "topic"), name(t, "foo")
	createTopic(t, b, topic, 2)
	all := fromKgos(produce(t, b, values(topic, 2, 25, "m")...))
	var res ckConsumeResult
	runPy(t, b, "ck_consume.py", "async", map[string]any{"topics": []string{topic}, "group": group, "n": 25, "parts": 2, "every": 10}, &res)
	sameRecs(t, "consumed", res.Records, all)
	if len(res.Commits) != 2 {
		t.Fatalf("on_commit called %d times, want 2: %+v", len(res.Commits), res.Commits)
	}
	for _, c := range res.Commits {
		if c.Err != nil {
			t.Errorf("on_commit error: %s", *c.Err)
		}
	}
	// An asynchronous commit takes the stored offsets when librdkafka
	// sends it, which may be after more records were read; a commit that
	// finds a partition unchanged since the previous one leaves it out
	// (-1001). So what the group holds in the end lies between the
	// position after the 20th record and the end.
	at20 := offsetsAt(topic, 2, res.Records, 20)
	end := endOffsets(t, b, topic)[topic]
	want := map[string]map[int32]int64{topic: {}}
	for i, p := range res.Committed {
		if p.Error != nil || *p.Offset < *at20[i].Offset || *p.Offset > end[p.Partition] {
			t.Errorf("committed() %s; after 20 records the position is %s, the end %d", p, at20[i], end[p.Partition])
		}
		want[topic][p.Partition] = *p.Offset
	}
	for _, c := range res.Commits {
		for _, p := range c.Offsets {
			if *p.Offset != -1001 && *p.Offset > want[topic][p.Partition] {
				t.Errorf("on_commit reported %s, above committed() %d", p, want[topic][p.Partition])
			}
		}
	}
	equal(t, "committed on the broker", committed(t, b, group), want)
}

// TestConfluentCommitOffsets: the first Chinese post's
// commit(offsets=[TopicPartition(topic, partition, offset), ...]),
// commit(message=msg) and committed(topicPartitionList).
func TestConfluentCommitOffsets(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := startBroker(t)
	topic, group := name(t, "Topic"), name(t, "test")
	createTopic(t, b, topic, 3)
	produce(t, b, values(topic, 3, 6, "m")...)
	var res ckConsumeResult
	runPy(t, b, "ck_consume.py", "offsets", map[string]any{"topics": []string{topic}, "group": group, "n": 6, "parts": 3, "offsets": []int{100, 200, 300}}, &res)
	if len(res.First) != 3 {
		t.Fatalf("first message: %v", res.First)
	}
	fp, fo := int32(res.First[1].(float64)), int64(res.First[2].(float64))
	offs := []int64{100, 200, 300}
	offs[fp] = fo + 1
	equal(t, "committed()", res.Committed, tps(topic, offs...))
	equal(t, "committed on the broker", committed(t, b, group), map[string]map[int32]int64{topic: {0: offs[0], 1: offs[1], 2: offs[2]}})
}

// TestConfluentOffsetReset: auto.offset.reset smallest / earliest /
// largest / latest, at the top level and in default.topic.config, for a
// group without committed offsets: the earliest ones read the old records
// and the new ones, the latest ones only what was produced once the
// consumer was at the end.
func TestConfluentOffsetReset(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := startBroker(t)
	for _, c := range []struct {
		reset  string
		dtc    bool
		oldToo bool
	}{
		{"smallest", false, true}, {"earliest", false, true}, {"largest", false, false}, {"latest", false, false},
		{"smallest", true, true}, {"largest", true, false},
	} {
		where := "top-level"
		if c.dtc {
			where = "default.topic.config"
		}
		t.Run(c.reset+"/"+where, func(t *testing.T) {
			t.Parallel()
			topic, group := name(t, "t"), name(t, "g")
			createTopic(t, b, topic, 2)
			old := fromKgos(produce(t, b, values(topic, 2, 4, "old")...))
			n := 0
			if c.oldToo {
				n = len(old)
			}
			var res ckConsumeResult
			runPy(t, b, "ck_consume.py", "reset", map[string]any{"topics": []string{topic}, "group": group, "n": n, "parts": 2, "reset": c.reset, "dtc": c.dtc, "new": 2}, &res)
			want := []rec{
				{topic, 0, 2, nil, str("new-0"), [][]string{}},
				{topic, 1, 2, nil, str("new-1"), [][]string{}},
			}
			if c.oldToo {
				want = append(old, want...)
				sortRecs(want)
			}
			sameRecs(t, "consumed", res.Records, want)
		})
	}
}

// TestConfluentRegexSubscribe: subscribe(['^topic.*']): every matching
// topic, and no other.
func TestConfluentRegexSubscribe(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := startBroker(t)
	prefix := name(t, "awesome")
	a, c, other := prefix+"-a", prefix+"-c", name(t, "boring")
	createTopic(t, b, a, 1)
	createTopic(t, b, c, 2)
	createTopic(t, b, other, 1)
	want := fromKgos(append(produce(t, b, values(a, 1, 3, "a")...), produce(t, b, values(c, 2, 4, "c")...)...))
	produce(t, b, values(other, 1, 2, "other")...)
	group := name(t, "g")
	var res ckConsumeResult
	runPy(t, b, "ck_consume.py", "autocommit", map[string]any{"topics": []string{"^" + strings.ReplaceAll(prefix, ".", `\.`) + ".*"},
		"committed_topics": []string{a, c}, "group": group, "n": len(want), "parts": 1}, &res)
	sameRecs(t, "consumed", res.Records, want)
	equal(t, "committed on the broker", committed(t, b, group), map[string]map[int32]int64{a: {0: 3}, c: {0: 2, 1: 2}})
}

// TestConfluentAssignSeekPause: a consumer without subscribe():
// get_watermark_offsets(), offsets_for_times(), assign() at an offset and
// at OFFSET_BEGINNING, position(), pause()/resume(), seek().
func TestConfluentAssignSeekPause(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := startBroker(t)
	topic := name(t, "test")
	createTopic(t, b, topic, 2)
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	recs := values(topic, 1, 10, "p0")
	for i, r := range recs {
		r.Timestamp = base.Add(time.Duration(i) * time.Second)
	}
	p1 := values(topic, 1, 5, "p1")
	for _, r := range p1 {
		r.Partition = 1
	}
	all := fromKgos(produce(t, b, append(recs, p1...)...))

	var res struct {
		Watermarks        [][]int64 `json:"watermarks"`
		Times             []tp      `json:"times"`
		Assigned          []rec     `json:"assigned"`
		Position          []tp      `json:"position"`
		Paused            []rec     `json:"paused"`
		Resumed           []rec     `json:"resumed"`
		Seeked            []rec     `json:"seeked"`
		PositionAfterSeek []tp      `json:"position_after_seek"`
	}
	runPy(t, b, "ck_assign.py", "", map[string]any{"topic": topic, "group": name(t, "g"), "start": 3, "ts": base.UnixMilli() + 4500, "seek": 5}, &res)
	equal(t, "get_watermark_offsets()", res.Watermarks, [][]int64{{0, 10}, {0, 5}})
	equal(t, "offsets_for_times()", res.Times, []tp{{topic, 0, i64(5), nil}, {topic, 1, i64(-1), nil}})
	sameRecs(t, "assigned at 3 and at the beginning", res.Assigned, append(slices.Clone(all[3:10]), all[10:]...))
	equal(t, "position()", res.Position, tps(topic, 10, 5))
	sameRecs(t, "read while p0 is paused", res.Paused, []rec{{topic, 1, 5, nil, str("while-paused-1"), [][]string{}}})
	paused0 := rec{topic, 0, 10, nil, str("while-paused-0"), [][]string{}}
	sameRecs(t, "read after resume", res.Resumed, []rec{paused0})
	sameRecs(t, "read after seek to 5", res.Seeked, append(slices.Clone(all[5:10]), paused0))
	equal(t, "position() after seek", res.PositionAfterSeek, tps(topic, 11))
}

type adminResult map[string]*string

// TestConfluentAdmin: AdminClient create_topics() (again: already exists;
// replication factor 2 on one broker: invalid), list_topics(),
// describe_configs() and alter_configs() as kafka-topics.sh --config /
// --alter --config / --deleteConfig, delete_topics().
func TestConfluentAdmin(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := startBroker(t)
	topic, configured := name(t, "created"), name(t, "my-topic")
	type topicInfo struct {
		Partitions []int32   `json:"partitions"`
		Leaders    []int32   `json:"leaders"`
		Replicas   [][]int32 `json:"replicas"`
		Error      *string   `json:"error"`
	}
	var res struct {
		Create            adminResult          `json:"create"`
		CreateAgain       adminResult          `json:"create_again"`
		CreateRF2         adminResult          `json:"create_rf2"`
		Listed            map[string]topicInfo `json:"listed"`
		ConfigsCreated    map[string]string    `json:"configs_created"`
		Alter             adminResult          `json:"alter"`
		ConfigsAltered    map[string]string    `json:"configs_altered"`
		AlterDelete       adminResult          `json:"alter_delete"`
		ConfigsDeleted    map[string]string    `json:"configs_deleted"`
		Delete            adminResult          `json:"delete"`
		ListedAfterDelete []string             `json:"listed_after_delete"`
		DeleteAgain       adminResult          `json:"delete_again"`
	}
	runPy(t, b, "ck_admin.py", "", map[string]any{"topic": topic, "configured": configured}, &res)
	ok := func(names ...string) adminResult {
		m := adminResult{}
		for _, n := range names {
			m[n] = nil
		}
		return m
	}
	equal(t, "create_topics", res.Create, ok(topic, configured))
	equal(t, "create_topics again", res.CreateAgain, adminResult{topic: str("TOPIC_ALREADY_EXISTS")})
	equal(t, "create_topics, replication factor 2", res.CreateRF2, adminResult{topic + "-rf2": str("INVALID_REPLICATION_FACTOR")})
	equal(t, "list_topics "+topic, res.Listed[topic], topicInfo{[]int32{0, 1, 2}, []int32{0}, [][]int32{{0}}, nil})
	equal(t, "list_topics "+configured, res.Listed[configured], topicInfo{[]int32{0}, []int32{0}, [][]int32{{0}}, nil})
	equal(t, "configs as created", res.ConfigsCreated, map[string]string{"max.message.bytes": "64000", "flush.messages": "1"})
	equal(t, "alter_configs", res.Alter, ok(configured))
	equal(t, "configs altered", res.ConfigsAltered, map[string]string{"max.message.bytes": "128000", "flush.messages": "1"})
	equal(t, "alter_configs without max.message.bytes", res.AlterDelete, ok(configured))
	equal(t, "configs after deleting max.message.bytes", res.ConfigsDeleted, map[string]string{"max.message.bytes": "1048588", "flush.messages": "1"})
	equal(t, "delete_topics", res.Delete, ok(topic))
	if slices.Contains(res.ListedAfterDelete, topic) || !slices.Contains(res.ListedAfterDelete, configured) {
		t.Errorf("list_topics after delete: %v", res.ListedAfterDelete)
	}
	equal(t, "delete_topics again", res.DeleteAgain, adminResult{topic: str("UNKNOWN_TOPIC_OR_PART")})
}

// ---- kafka-python

// TestKafkaPythonProduce: the first post's KafkaProducer demo:
// send().get(timeout=10) and its RecordMetadata, a keyed send, headers, a
// JSON value_serializer, 100 asynchronous sends, add_callback /
// add_errback, flush(), retries=5.
func TestKafkaPythonProduce(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := startBroker(t)
	topic := name(t, "my-topic")
	var res struct {
		Sync, Keyed, Headers, JSON, Retries []any
		Asynchronous, Callbacks             [][]any
		Errbacks                            []string
	}
	runPy(t, b, "kp_produce.py", "seed", map[string]any{"topic": topic}, &res)
	md := func(o int) []any { return []any{topic, 0.0, float64(o)} }
	equal(t, "send().get()", res.Sync, md(0))
	equal(t, "keyed", res.Keyed, md(1))
	equal(t, "headers", res.Headers, md(2))
	equal(t, "json", res.JSON, md(3))
	var asyncWant [][]any
	for i := 4; i < 104; i++ {
		asyncWant = append(asyncWant, md(i))
	}
	equal(t, "100 asynchronous sends", res.Asynchronous, asyncWant)
	equal(t, "add_callback", res.Callbacks, [][]any{md(104)})
	equal(t, "add_errback", len(res.Errbacks), 0)
	equal(t, "retries=5", res.Retries, md(105))

	want := []rec{
		{topic, 0, 0, nil, str("raw_bytes"), [][]string{}},
		{topic, 0, 1, str("foo"), str("bar"), [][]string{}},
		{topic, 0, 2, nil, str("with-headers"), [][]string{{"h1", "v1"}, {"h2", ""}}},
		{topic, 0, 3, nil, str(`{"key": "value"}`), [][]string{}},
	}
	for i := 4; i < 104; i++ {
		want = append(want, rec{topic, 0, int64(i), nil, str("msg"), [][]string{}})
	}
	want = append(want, rec{topic, 0, 104, nil, str("raw_bytes"), [][]string{}}, rec{topic, 0, 105, str("retry"), str("5"), [][]string{}})
	sameRecs(t, "records", readAll(t, b, topic), want)
}

type kpConsumeResult struct {
	Records            []rec    `json:"records"`
	Stops              int      `json:"stops"`
	Assignment         []tp     `json:"assignment"`
	Subscription       []string `json:"subscription"`
	Topics             []string `json:"topics"`
	PartitionsForTopic []int32  `json:"partitions_for_topic"`
	BeginningOffsets   []tp     `json:"beginning_offsets"`
	EndOffsets         []tp     `json:"end_offsets"`
	OffsetsForTimes    []tp     `json:"offsets_for_times"`
	Position           []int64  `json:"position"`
	Positions          []tp     `json:"positions"`
	Committed          []tp     `json:"committed"`
	CommittedExplicit  []tp     `json:"committed_explicit"`
	CommittedAsync     int64    `json:"committed_async"`
	AsyncCallback      []string `json:"async_callback"`
	Paused             []tp     `json:"paused"`
	PausedAfterResume  []tp     `json:"paused_after_resume"`
	WhilePaused        []rec    `json:"while_paused"`
	Resumed            []rec    `json:"resumed"`
}

func parts(topic string, ps ...int32) []tp {
	var out []tp
	for _, p := range ps {
		out = append(out, tp{Topic: topic, Partition: p})
	}
	return out
}

// TestKafkaPythonJSON: the Japanese post's producer (value_serializer
// json.dumps, non-ASCII text) and its consumer loop (`for msg in
// consumer`, auto_offset_reset='earliest', consumer_timeout_ms), here with
// value_deserializer=json.loads.
func TestKafkaPythonJSON(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := startBroker(t)
	topic := name(t, "T100117_jrtt_grade_advertiser_public_info")
	var sent struct {
		Sent map[string]any `json:"sent"`
	}
	runPy(t, b, "kp_produce.py", "json", map[string]any{"topic": topic}, &sent)
	got := readAll(t, b, topic)
	if len(got) != 1 {
		t.Fatalf("%d records, want 1: %v", len(got), got)
	}
	var value map[string]any
	if err := json.Unmarshal([]byte(*got[0].Value), &value); err != nil {
		t.Fatal(err)
	}
	equal(t, "stored value", value, sent.Sent)
	if !strings.Contains(*got[0].Value, `"ZS-\u7f51\u6613"`) {
		t.Errorf("stored value %s: json.dumps escapes non-ASCII", *got[0].Value)
	}

	var res kpConsumeResult
	runPy(t, b, "kp_consume.py", "iterate", map[string]any{"topic": topic, "n": 1, "timeout_ms": 1000, "json": true}, &res)
	if len(res.Records) != 1 {
		t.Fatalf("consumed %v", res.Records)
	}
	var consumed map[string]any
	if err := json.Unmarshal([]byte(*res.Records[0].Value), &consumed); err != nil {
		t.Fatal(err)
	}
	equal(t, "deserialized value", consumed, sent.Sent)
}

// TestKafkaPythonIterate: `for message in consumer` without a group
// (auto_offset_reset='earliest'), ended by consumer_timeout_ms
// (StopIteration), over 2 partitions.
func TestKafkaPythonIterate(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := startBroker(t)
	topic := name(t, "test")
	createTopic(t, b, topic, 2)
	want := fromKgos(produce(t, b, values(topic, 2, 9, "m")...))
	var res kpConsumeResult
	runPy(t, b, "kp_consume.py", "iterate", map[string]any{"topic": topic, "n": 9, "timeout_ms": 1000}, &res)
	sameRecs(t, "consumed", res.Records, want)
	equal(t, "assignment()", res.Assignment, parts(topic, 0, 1))
	if res.Stops < 1 {
		t.Errorf("consumer_timeout_ms never ended the iteration")
	}
}

// TestKafkaPythonOldAPIVersion: seed 004's consumer pins
// api_version=(0, 10), which makes kafka-python use Fetch v2 and
// ListOffsets v0 (TestKafkaPythonSeed004 runs it with its msgpack
// deserializer and the producer of its tutorial).
func TestKafkaPythonOldAPIVersion(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := startBroker(t)
	topic := name(t, "parsed_recipes")
	createTopic(t, b, topic, 1)
	want := fromKgos(produce(t, b, values(topic, 1, 3, `{"calories": 250}`)...))
	var res kpConsumeResult
	runPy(t, b, "kp_consume.py", "iterate", map[string]any{"topic": topic, "n": 3, "timeout_ms": 1000, "api_version": []int{0, 10}}, &res)
	sameRecs(t, "consumed", res.Records, want)
}

// TestKafkaPythonGroupAutoCommit: the first post's complete demo:
// KafkaConsumer('my-topic', group_id='my-group') with auto commit; close()
// commits, and the next consumer of the group resumes there.
func TestKafkaPythonGroupAutoCommit(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := startBroker(t)
	topic, group := name(t, "my-topic"), name(t, "my-group")
	createTopic(t, b, topic, 3)
	first := fromKgos(produce(t, b, values(topic, 3, 10, "first")...))
	var res kpConsumeResult
	args := map[string]any{"topic": topic, "group": group, "n": 10, "timeout_ms": 1000}
	runPy(t, b, "kp_consume.py", "iterate", args, &res)
	sameRecs(t, "first run", res.Records, first)
	equal(t, "assignment()", res.Assignment, parts(topic, 0, 1, 2))
	equal(t, "committed by close()", committed(t, b, group), map[string]map[int32]int64{topic: {0: 4, 1: 3, 2: 3}})

	second := fromKgos(produce(t, b, values(topic, 3, 4, "second")...))
	args["n"] = 4
	runPy(t, b, "kp_consume.py", "iterate", args, &res)
	sameRecs(t, "second run", res.Records, second)
	equal(t, "committed after the second run", committed(t, b, group), map[string]map[int32]int64{topic: {0: 6, 1: 4, 2: 4}})
}

// TestKafkaPythonManualCommit: enable_auto_commit=False with commit(),
// commit(offsets={tp: OffsetAndMetadata}), commit_async(callback=...) and
// committed().
func TestKafkaPythonManualCommit(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := startBroker(t)
	topic, group := name(t, "test"), name(t, "g")
	createTopic(t, b, topic, 2)
	want := fromKgos(produce(t, b, values(topic, 2, 7, "m")...))
	var res kpConsumeResult
	runPy(t, b, "kp_consume.py", "manual", map[string]any{"topic": topic, "group": group, "n": 7}, &res)
	sameRecs(t, "consumed", res.Records, want)
	equal(t, "committed() after commit()", res.Committed, tps(topic, 4, 3))
	equal(t, "committed() after commit(offsets=)", res.CommittedExplicit, tps(topic, 1, 3))
	equal(t, "commit_async callback", res.AsyncCallback, []string{"None"})
	equal(t, "committed() after commit_async", res.CommittedAsync, int64(2))
	equal(t, "committed on the broker", committed(t, b, group), map[string]map[int32]int64{topic: {0: 2, 1: 3}})
}

// TestKafkaPythonRebalanceListener: the English post's exactly-once
// recipe: offsets kept outside Kafka, enable_auto_commit=False, and a
// ConsumerRebalanceListener that seeks each assigned partition to its
// stored offset; nothing is committed to the group.
func TestKafkaPythonRebalanceListener(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := startBroker(t)
	topic, group := name(t, "test"), name(t, "g")
	createTopic(t, b, topic, 3)
	all := fromKgos(produce(t, b, values(topic, 3, 12, "m")...))
	stored := map[int32]int64{0: 1, 1: 3, 2: 0}
	var want []rec
	for _, r := range all {
		if r.Offset >= stored[r.Partition] {
			want = append(want, r)
		}
	}
	var res struct {
		Records  []rec  `json:"records"`
		Assigned [][]tp `json:"assigned"`
	}
	runPy(t, b, "kp_consume.py", "listener", map[string]any{"topic": topic, "group": group, "n": len(want), "stored": stored}, &res)
	sameRecs(t, "consumed from the stored offsets", res.Records, want)
	equal(t, "on_partitions_assigned", res.Assigned, [][]tp{parts(topic, 0, 1, 2)})
	equal(t, "committed on the broker", committed(t, b, group), map[string]map[int32]int64{})
}

// TestKafkaPythonSeek: the first post's #5: partitions_for_topic(),
// topics(), subscription(), assignment(), beginning_offsets(), then
// seek(TopicPartition(topic, 0), 5); plus end_offsets() and
// offsets_for_times().
func TestKafkaPythonSeek(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := startBroker(t)
	topic, other := name(t, "test"), name(t, "test0")
	createTopic(t, b, topic, 2)
	createTopic(t, b, other, 1)
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	recs := values(topic, 1, 10, "p0")
	for i, r := range recs {
		r.Timestamp = base.Add(time.Duration(i) * time.Second)
	}
	all := fromKgos(produce(t, b, append(recs, &kgo.Record{Topic: topic, Partition: 1, Value: []byte("p1")})...))
	var res kpConsumeResult
	runPy(t, b, "kp_consume.py", "seek", map[string]any{"topic": topic, "n": 5, "timeout_ms": 1000, "ts": base.UnixMilli() + 4500, "seek": 5}, &res)
	equal(t, "partitions_for_topic()", res.PartitionsForTopic, []int32{0, 1})
	equal(t, "topics()", res.Topics, []string{topic, other})
	equal(t, "subscription()", res.Subscription, []string{topic})
	equal(t, "assignment()", res.Assignment, parts(topic, 0, 1))
	equal(t, "beginning_offsets()", res.BeginningOffsets, tps(topic, 0, 0))
	equal(t, "end_offsets()", res.EndOffsets, tps(topic, 10, 1))
	equal(t, "offsets_for_times()", res.OffsetsForTimes, []tp{{topic, 0, i64(5), nil}, {topic, 1, nil, nil}})
	// Partition 1 starts at the end: auto_offset_reset defaults to latest.
	sameRecs(t, "read after seek(tp0, 5)", res.Records, all[5:10])
}

// TestKafkaPythonPosition: the first post's #6 and #7:
// subscribe(topics=('test', 'test0')), topics(), position() (the end: the
// default reset is latest), then poll(timeout_ms=5) what is produced next.
func TestKafkaPythonPosition(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := startBroker(t)
	topic, topic2 := name(t, "test"), name(t, "test0")
	createTopic(t, b, topic, 1)
	createTopic(t, b, topic2, 1)
	produce(t, b, values(topic, 1, 4, "old")...)
	produce(t, b, values(topic2, 1, 2, "old")...)
	var res kpConsumeResult
	runPy(t, b, "kp_consume.py", "position", map[string]any{"topic": topic, "topic2": topic2}, &res)
	equal(t, "topics()", res.Topics, []string{topic, topic2})
	equal(t, "subscription()", res.Subscription, []string{topic, topic2})
	equal(t, "position()", res.Position, []int64{4, 2})
	sameRecs(t, "polled", res.Records, []rec{
		{topic, 0, 4, nil, str("new-" + topic + "-0"), [][]string{}},
		{topic2, 0, 2, nil, str("new-" + topic2 + "-0"), [][]string{}},
	})
}

// TestKafkaPythonPauseResume: the first post's #8: pause(TopicPartition),
// paused(), resume().
func TestKafkaPythonPauseResume(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := startBroker(t)
	topic := name(t, "test")
	createTopic(t, b, topic, 2)
	produce(t, b, values(topic, 2, 4, "old")...)
	var res kpConsumeResult
	runPy(t, b, "kp_consume.py", "pause", map[string]any{"topic": topic}, &res)
	equal(t, "position()", res.Position, []int64{2, 2})
	equal(t, "paused()", res.Paused, parts(topic, 0))
	sameRecs(t, "polled while p0 is paused", res.WhilePaused, []rec{{topic, 1, 2, nil, str("new-" + topic + "-1"), [][]string{}}})
	equal(t, "paused() after resume", len(res.PausedAfterResume), 0)
	sameRecs(t, "polled after resume", res.Resumed, []rec{{topic, 0, 2, nil, str("new-" + topic + "-0"), [][]string{}}})
}

// TestKafkaPythonPattern: subscribe(pattern='^awesome.*'), without a
// group (the post's form) and in a group.
func TestKafkaPythonPattern(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := startBroker(t)
	for _, grouped := range []bool{false, true} {
		sub := "no-group"
		if grouped {
			sub = "group"
		}
		t.Run(sub, func(t *testing.T) {
			t.Parallel()
			prefix := name(t, "awesome")
			a, c, other := prefix+"-a", prefix+"-c", name(t, "boring")
			createTopic(t, b, a, 1)
			createTopic(t, b, c, 2)
			createTopic(t, b, other, 1)
			produce(t, b, &kgo.Record{Topic: a, Value: []byte("old")})
			args := map[string]any{"pattern": "^" + strings.ReplaceAll(prefix, ".", `\.`) + ".*", "partitions": 3, "produce": []string{a, c, other}, "n": 2}
			if grouped {
				args["group"] = name(t, "g")
			}
			var res kpConsumeResult
			runPy(t, b, "kp_consume.py", "pattern", args, &res)
			equal(t, "subscription()", res.Subscription, []string{a, c})
			equal(t, "assignment()", res.Assignment, []tp{{Topic: a}, {Topic: c}, {Topic: c, Partition: 1}})
			equal(t, "position()", res.Positions, []tp{{a, 0, i64(1), nil}, {c, 0, i64(0), nil}, {c, 1, i64(0), nil}})
			sameRecs(t, "polled", res.Records, []rec{
				{a, 0, 1, nil, str("new-" + a + "-0"), [][]string{}},
				{c, 0, 0, nil, str("new-" + c + "-0"), [][]string{}},
			})
		})
	}
}

// TestKafkaPythonAdmin: KafkaAdminClient.create_topics() as the Japanese
// post calls it (6 partitions; its replication_factor=2 fails on one
// broker as on a one-broker Kafka), list_topics(), KafkaConsumer.topics(),
// describe_configs() / alter_configs(), list_consumer_groups(),
// list_consumer_group_offsets(), delete_topics(); and the first post's raw
// CreateTopicsRequest_v0 sent with KafkaClient to the controller.
func TestKafkaPythonAdmin(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := startBroker(t)
	topic, raw, group := name(t, "T100117_jrtt"), name(t, "raw"), name(t, "g")
	other := name(t, "other")
	createTopic(t, b, other, 1)
	cl := admin(t, b)
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: other, Partition: 0, At: 6, LeaderEpoch: -1})
	if _, err := cl.CommitOffsets(ctxT(t), group, offs); err != nil {
		t.Fatal(err)
	}
	var res struct {
		CreateRF        *string           `json:"create_rf"`
		Create          [][]any           `json:"create"`
		ListTopics      []string          `json:"list_topics"`
		ConsumerTopics  []string          `json:"consumer_topics"`
		Configs         map[string]string `json:"configs"`
		ConfigsAltered  map[string]string `json:"configs_altered"`
		RawExistsBefore bool              `json:"raw_exists_before"`
		RawCodes        []int             `json:"raw_codes"`
		GroupOffsets    []tp              `json:"group_offsets"`
		Groups          []string          `json:"groups"`
		Delete          [][]any           `json:"delete"`
		ListAfterDelete []string          `json:"list_after_delete"`
	}
	runPy(t, b, "kp_admin.py", "", map[string]any{"topic": topic, "raw": raw, "rf": 2, "group": group}, &res)
	equal(t, "create_topics, replication_factor=2", res.CreateRF, str("InvalidReplicationFactorError"))
	equal(t, "create_topics", res.Create, [][]any{{topic, 0.0}})
	internal := []string{"__consumer_offsets", "__transaction_state"}
	// The metadata of all topics, internal ones included, as Kafka's.
	for _, n := range append([]string{topic, other}, internal...) {
		if !slices.Contains(res.ListTopics, n) {
			t.Errorf("list_topics() %v lacks %s", res.ListTopics, n)
		}
	}
	equal(t, "KafkaConsumer.topics() (no internal topics)", res.ConsumerTopics, []string{topic, other})
	equal(t, "describe_configs()", res.Configs, map[string]string{"max.message.bytes": "64000", "retention.ms": "604800000"})
	equal(t, "describe_configs() after alter_configs()", res.ConfigsAltered, map[string]string{"max.message.bytes": "128000", "retention.ms": "604800000"})
	equal(t, "raw topic in the metadata before", res.RawExistsBefore, false)
	equal(t, "CreateTopicsRequest_v0 error codes (then TOPIC_ALREADY_EXISTS)", res.RawCodes, []int{0, 36})
	equal(t, "list_consumer_group_offsets()", res.GroupOffsets, []tp{{other, 0, i64(6), nil}})
	equal(t, "list_consumer_groups()", res.Groups, []string{group})
	equal(t, "delete_topics()", res.Delete, [][]any{{topic, 0.0}})
	if slices.Contains(res.ListAfterDelete, topic) || !slices.Contains(res.ListAfterDelete, raw) {
		t.Errorf("list_topics() after delete_topics(): %v", res.ListAfterDelete)
	}

	cfg, err := cl.DescribeTopicConfigs(ctxT(t), raw)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfg.On(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	retention := ""
	for _, c := range rc.Configs {
		if c.Key == "retention.ms" {
			retention = c.MaybeValue()
		}
	}
	equal(t, "retention.ms of the raw request's topic", retention, "60000")
	equal(t, "partitions of the raw request's topic", len(endOffsets(t, b, raw)[raw]), 2)
}

// ---- both

// TestGroupSplitPartitions: two consumers of one group (the posts run
// them in two processes) split the partitions; a record produced to each
// partition reaches the consumer holding it, once. With
// group.initial.rebalance.delay.ms at 0, the first member gets everything
// and the second one's join rebalances the group.
func TestGroupSplitPartitions(t *testing.T) {
	t.Parallel()
	needPython(t)
	for _, c := range []struct {
		client string
		parts  int
		opts   []broker.Opt
	}{
		{"confluent", 4, nil},
		{"kafka-python", 3, nil},
		{"confluent", 3, []broker.Opt{broker.GroupInitialRebalanceDelay(0)}},
		{"kafka-python", 4, []broker.Opt{broker.GroupInitialRebalanceDelay(0)}},
	} {
		delay := "default-delay"
		if c.opts != nil {
			delay = "no-delay"
		}
		t.Run(c.client+"/"+delay, func(t *testing.T) {
			t.Parallel()
			b := startBroker(t, c.opts...)
			topic, group := name(t, "my-topic"), name(t, "my-group")
			createTopic(t, b, topic, int32(c.parts))
			var res struct {
				Assignments [][]int32 `json:"assignments"`
				Records     [][]rec   `json:"records"`
			}
			runPy(t, b, "group_split.py", c.client, map[string]any{"topic": topic, "group": group, "parts": c.parts}, &res)
			seen := map[int32]int{}
			for i, as := range res.Assignments {
				if len(as) == 0 {
					t.Errorf("consumer %d got no partition: %v", i, res.Assignments)
				}
				for _, p := range as {
					seen[p]++
				}
			}
			if len(seen) != c.parts {
				t.Errorf("assignments %v do not cover the %d partitions", res.Assignments, c.parts)
			}
			for p, n := range seen {
				if n != 1 {
					t.Errorf("partition %d assigned %d times: %v", p, n, res.Assignments)
				}
			}
			for i, rs := range res.Records {
				var want []rec
				for _, p := range res.Assignments[i] {
					want = append(want, rec{topic, p, 0, nil, str(fmt.Sprint("to-", p)), [][]string{}})
				}
				sameRecs(t, fmt.Sprintf("consumer %d (partitions %v)", i, res.Assignments[i]), rs, want)
			}
		})
	}
}
