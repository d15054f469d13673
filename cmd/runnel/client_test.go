package main

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/internal/brokertest"

	"github.com/runnel-io/runnel/internal/proctest"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// startTestBroker starts a broker in this process and returns its address.
// A consumer group's first rebalance completes as soon as its members have
// joined (no group.initial.rebalance.delay.ms).
func startTestBroker(t *testing.T) string {
	t.Helper()
	return brokertest.Start(t)
}

// kafkaClient is a franz-go client of addr for checks behind the CLI's back.
func kafkaClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return brokertest.Client(t, addr, opts...)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// cli runs a command that must succeed and returns its stdout.
func cli(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	code, out, errOut := runCLIWithInput(t, stdin, args...)
	if code != 0 {
		t.Fatalf("%q: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errOut)
	}
	return out
}

// cliFails runs a command that must fail and returns its stderr.
func cliFails(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	code, out, errOut := runCLIWithInput(t, stdin, args...)
	if code != 1 {
		t.Fatalf("%q: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", args, code, out, errOut)
	}
	return errOut
}

func mustMatch(t *testing.T, what, s string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(s) {
			t.Errorf("%s does not match %s:\n%s", what, p, s)
		}
	}
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func TestTopicCommands(t *testing.T) {
	t.Parallel()
	addr := startTestBroker(t)
	b := []string{"--bootstrap", addr}
	topic := func(args ...string) []string { return append(append([]string{"topic"}, args...), b...) }

	// The broker's own topics (__transaction_state, __consumer_offsets)
	// are listed while its Metadata does not flag them internal.
	list := func() string {
		var keep []string
		for _, l := range lines(cli(t, "", topic("list")...)) {
			if !strings.HasPrefix(l, "__") {
				keep = append(keep, strings.Join(strings.Fields(l), " "))
			}
		}
		return strings.Join(keep, "\n")
	}
	if out := list(); out != "no topics (create one with: runnel topic create NAME)" && out != "TOPIC PARTITIONS REPLICATION" {
		t.Errorf("list of none: %q", out)
	}
	out := cli(t, "", topic("create", "orders", "--partitions", "3", "--config", "retention.ms=60000")...)
	if out != "created topic \"orders\": 3 partitions, replication factor 1\n  retention.ms=60000\n" {
		t.Errorf("create: %q", out)
	}
	cli(t, "", topic("create", "audit", "-b", addr)...)
	if errOut := cliFails(t, "", topic("create", "orders")...); errOut != "runnel: topic \"orders\" already exists\n" {
		t.Errorf("create twice: %q", errOut)
	}
	mustMatch(t, "bad config", cliFails(t, "", topic("create", "bad", "--config", "retention.mss=1")...),
		`^runnel: cannot create topic "bad": .*unknown topic config "retention.mss".* \(INVALID_CONFIG\)\n$`)
	mustMatch(t, "replication factor", cliFails(t, "", topic("create", "bad", "--replication-factor", "3")...),
		`^runnel: cannot create topic "bad": .*single node \(INVALID_REPLICATION_FACTOR\)\n$`)
	if errOut := cliFails(t, "", topic("create", "bad", "--config", "retention.ms")...); errOut != "runnel: --config \"retention.ms\": want key=value\n" {
		t.Errorf("config without value: %q", errOut)
	}
	if out := list(); out != "TOPIC PARTITIONS REPLICATION\naudit 1 1\norders 3 1" {
		t.Errorf("list: %q", out)
	}

	// Records in partition 1 show in describe's offsets.
	cli(t, "a\nb\nc\nd\ne\n", "produce", "orders", "--partition", "1", "-b", addr)
	out = cli(t, "", topic("describe", "orders")...)
	mustMatch(t, "describe", out,
		`(?m)^topic +orders$`, `(?m)^id +[A-Za-z0-9_-]{22}$`, `(?m)^partitions +3, replication factor 1$`,
		`(?m)^PARTITION +LEADER +REPLICAS +ISR +START +END$`,
		`(?m)^0 +0 +\[0\] +\[0\] +0 +0$`, `(?m)^1 +0 +\[0\] +\[0\] +0 +5$`, `(?m)^2 +0 +\[0\] +\[0\] +0 +0$`,
		`(?m)^CONFIG +VALUE +SOURCE$`, `(?m)^retention\.ms +60000 +set on topic$`, `(?m)^cleanup\.policy +delete +default$`)

	out = cli(t, "", topic("alter", "orders", "--config", "cleanup.policy=compact", "--config", "segment.bytes=1048576", "--delete-config", "retention.ms")...)
	want := "set cleanup.policy=compact on topic \"orders\"\nset segment.bytes=1048576 on topic \"orders\"\n" +
		"deleted retention.ms from topic \"orders\": it takes the default now\n"
	if out != want {
		t.Errorf("alter: %q, want %q", out, want)
	}
	mustMatch(t, "describe after alter", cli(t, "", topic("describe", "orders")...),
		`(?m)^cleanup\.policy +compact +set on topic$`, `(?m)^segment\.bytes +1048576 +set on topic$`, `(?m)^retention\.ms +604800000 +default$`)
	if out := cli(t, "", topic("alter", "orders", "--partitions", "5")...); out != "topic \"orders\" has 5 partitions now\n" {
		t.Errorf("alter partitions: %q", out)
	}
	mustMatch(t, "describe after adding partitions", cli(t, "", topic("describe", "orders")...), `(?m)^partitions +5, `, `(?m)^4 +0 +\[0\] +\[0\] +0 +0$`)
	mustMatch(t, "fewer partitions", cliFails(t, "", topic("alter", "orders", "--partitions", "2")...),
		`^runnel: cannot add partitions to topic "orders": .*partitions can be added, not removed \(INVALID_PARTITIONS\)\n$`)
	mustMatch(t, "bad value", cliFails(t, "", topic("alter", "orders", "--config", "retention.ms=soon")...),
		`^runnel: cannot alter topic "orders": .*retention\.ms="soon": not an integer.*\(INVALID_CONFIG\)\n$`)
	mustMatch(t, "nothing to alter", cliFails(t, "", topic("alter", "orders")...), `^runnel: nothing to change: give --config`)

	missing := fmt.Sprintf("runnel: topic \"nope\" does not exist (create it with: runnel topic create nope --bootstrap %s)\n", addr)
	for _, args := range [][]string{
		topic("describe", "nope"), topic("alter", "nope", "--config", "retention.ms=1"), topic("delete", "nope"),
		{"produce", "nope", "-b", addr}, {"consume", "nope", "-b", addr},
	} {
		if errOut := cliFails(t, "x\n", args...); errOut != missing {
			t.Errorf("%q: %q, want %q", args, errOut, missing)
		}
	}

	if out := cli(t, "", topic("delete", "orders")...); out != "deleted topic \"orders\"\n" {
		t.Errorf("delete: %q", out)
	}
	if out := list(); out != "TOPIC PARTITIONS REPLICATION\naudit 1 1" {
		t.Errorf("list after delete: %q", out)
	}
	mustMatch(t, "usage", cliFails(t, "", topic("describe")...), `^runnel: runnel topic describe takes one topic name, got 0 arguments\n`)
}

func TestProduceAndConsume(t *testing.T) {
	t.Parallel()
	addr := startTestBroker(t)
	cli(t, "", "topic", "create", "clicks", "--partitions", "2", "-b", addr)

	in := "alice:login\nbob:login\nalice:click\n\nbob:logout\n"
	out := cli(t, strings.ReplaceAll(in, "\n\n", "\ncarol:\n"), "produce", "clicks", "-b", addr, "--key-separator", ":",
		"--header", "source=cli", "--header", "v=1")
	mustMatch(t, "produce", out, `^produced 5 records to topic "clicks": partition \d offsets? \d(-\d)?(, partition \d offsets? \d(-\d)?)?\n$`)

	code, out, errOut := runCLI(t, "consume", "clicks", "-b", addr,
		"--format", `{{.Topic}} {{.Key}}={{.Value}} [{{.Headers}}] {{.Header "source"}} {{.Timestamp.Year}}`)
	if code != 0 || errOut != "5 records from topic \"clicks\"\n" {
		t.Fatalf("consume: exit %d, %q", code, errOut)
	}
	got := lines(out)
	slices.Sort(got)
	year := time.Now().UTC().Year()
	want := []string{
		fmt.Sprintf("clicks alice=click [source=cli,v=1] cli %d", year), fmt.Sprintf("clicks alice=login [source=cli,v=1] cli %d", year),
		fmt.Sprintf("clicks bob=login [source=cli,v=1] cli %d", year), fmt.Sprintf("clicks bob=logout [source=cli,v=1] cli %d", year),
		fmt.Sprintf("clicks carol= [source=cli,v=1] cli %d", year),
	}
	if !slices.Equal(got, want) {
		t.Fatalf("consumed\n%q\nwant\n%q", got, want)
	}

	// A key's records keep their order within its partition; --partition,
	// --offset and --count pick a range.
	perPartition := map[string][]string{}
	for _, l := range lines(cli(t, "", "consume", "clicks", "-b", addr, "--format", "{{.Partition}} {{.Offset}} {{.Key}} {{.Value}}")) {
		f := strings.Fields(l + " ")
		perPartition[f[0]] = append(perPartition[f[0]], l)
	}
	for p, ls := range perPartition {
		if len(ls) < 2 {
			continue
		}
		out := cli(t, "", "consume", "clicks", "-b", addr, "--partition", p, "--offset", "1", "--count", "1",
			"--format", "{{.Partition}} {{.Offset}} {{.Key}} {{.Value}}")
		if out != ls[1]+"\n" {
			t.Errorf("partition %s from offset 1, one record: %q, want %q", p, out, ls[1])
		}
	}
	if out := cli(t, "", "consume", "clicks", "-b", addr, "--count", "2"); len(lines(out)) != 2 {
		t.Errorf("--count 2: %q", out)
	}

	// acks=0 and acks=1.
	if out := cli(t, "x\ny\n", "produce", "clicks", "-b", addr, "--acks", "0", "--partition", "0"); out != "sent 2 records to topic \"clicks\" (acks=0: the broker does not acknowledge them, so their offsets are unknown)\n" {
		t.Errorf("acks=0: %q", out)
	}
	mustMatch(t, "acks=1", cli(t, "z\n", "produce", "clicks", "-b", addr, "--acks", "1", "--partition", "1"),
		`^produced 1 record to topic "clicks": partition 1 offset \d+\n$`)
	adm := kadm.NewClient(kafkaClient(t, addr))
	for deadline := time.Now().Add(10 * time.Second); ; {
		ends, err := adm.ListEndOffsets(ctxT(t), "clicks")
		if err != nil {
			t.Fatal(err)
		}
		n := int64(0)
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		if n == 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records in the topic, want 8", n)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// A line without the key separator stops the input; what came before
	// is produced and reported.
	code, out, errOut = runCLIWithInput(t, "k:v\nno separator\nk:w\n", "produce", "clicks", "-b", addr, "--key-separator", ":")
	if code != 1 || !strings.HasPrefix(out, "produced 1 record to topic \"clicks\": partition ") ||
		errOut != "runnel: line 2 has no key separator \":\"; stopped reading there\n" {
		t.Errorf("missing separator: exit %d\n%s%s", code, out, errOut)
	}
	// A record the broker refuses.
	code, out, errOut = runCLIWithInput(t, strings.Repeat("x", 2<<20)+"\n", "produce", "clicks", "-b", addr)
	if code != 1 || out != "produced 0 records to topic \"clicks\"\n" ||
		!strings.HasPrefix(errOut, "runnel: 1 of 1 record failed; the first: the record of line 1: ") || !strings.Contains(errOut, "MESSAGE_TOO_LARGE") {
		t.Errorf("too large: exit %d\n%s%s", code, out, errOut)
	}
	if out := cli(t, "", "produce", "clicks", "-b", addr); out != "no input lines: nothing produced\n" {
		t.Errorf("empty input: %q", out)
	}
}

func TestConsumeStartingPoints(t *testing.T) {
	t.Parallel()
	addr := startTestBroker(t)
	cli(t, "", "topic", "create", "timed", "-b", addr)
	cl := kafkaClient(t, addr, kgo.DefaultProduceTopic("timed"))
	// Recent timestamps: retention.ms (7 days) would delete old ones.
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	for i := 0; i < 6; i++ {
		r := &kgo.Record{Value: []byte(fmt.Sprint("v", i)), Timestamp: base.Add(time.Duration(i) * time.Minute)}
		if err := cl.ProduceSync(ctxT(t), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	format := []string{"--format", "{{.Offset}} {{.Value}}"}
	consume := func(args ...string) string {
		return cli(t, "", append(append([]string{"consume", "timed", "-b", addr}, format...), args...)...)
	}
	at := func(d time.Duration, zone *time.Location) string { return base.Add(d).In(zone).Format(time.RFC3339) }
	if out := consume("--from-time", at(3*time.Minute+30*time.Second, time.UTC)); out != "4 v4\n5 v5\n" {
		t.Errorf("--from-time: %q", out)
	}
	if out := consume("--from-time", at(3*time.Minute+30*time.Second, time.FixedZone("", 3600)), "--count", "1"); out != "4 v4\n" {
		t.Errorf("--from-time with a zone: %q", out)
	}
	if out := consume("--from-time", at(time.Hour, time.UTC)); out != "" {
		t.Errorf("--from-time after every record: %q", out)
	}
	want := base.Add(2*time.Minute).Format("2006-01-02 15:04") + " v2\n"
	if out := cli(t, "", "consume", "timed", "-b", addr, "--partition", "0", "--offset", "2", "--count", "1",
		"--format", `{{.Timestamp.Format "2006-01-02 15:04"}} {{.Value}}`); out != want {
		t.Errorf("timestamp: %q, want %q", out, want)
	}
	if out := consume("--partition", "0", "--offset", "5"); out != "5 v5\n" {
		t.Errorf("--offset 5: %q", out)
	}
	if out := consume("--partition", "0", "--offset", "6"); out != "" {
		t.Errorf("--offset at the end: %q", out)
	}
	if out := consume("--from-beginning", "--count", "2"); out != "0 v0\n1 v1\n" {
		t.Errorf("--from-beginning --count 2: %q", out)
	}

	// Records deleted with DeleteRecords are gone from the beginning.
	adm := kadm.NewClient(cl)
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "timed", Partition: 0, At: 4})
	if rs, err := adm.DeleteRecords(ctxT(t), offs); err != nil || rs.Error() != nil {
		t.Fatalf("%v %v", err, rs.Error())
	}
	if out := consume(); out != "4 v4\n5 v5\n" {
		t.Errorf("after DeleteRecords: %q", out)
	}
	// and it says so: a topic that holds fewer records than were written
	// to it (retention took them) is no mystery.
	if _, _, errOut := runCLI(t, "consume", "timed", "-b", addr, "--from-beginning"); !strings.Contains(errOut,
		`note: partition 0 of "timed" starts at offset 4: the records before it were deleted`) {
		t.Errorf("consume --from-beginning after DeleteRecords does not say where the partition starts:\n%s", errOut)
	}
	mustMatch(t, "offset below the start", cliFails(t, "", "consume", "timed", "-b", addr, "--partition", "0", "--offset", "2"),
		`^runnel: --offset 2: partition 0 of topic "timed" holds offsets 4 to 5 \(the next record gets 6\)\n$`)

	// --follow --from-beginning --count: the old records, then a new one.
	done := make(chan string, 1)
	go func() {
		_, out, _ := runCLI(t, "consume", "timed", "-b", addr, "--follow", "--from-beginning", "--count", "3", "--format", "{{.Value}}")
		done <- out
	}()
	// Whether "new" arrives before or after the consumer starts, it is the
	// third record from the beginning: the output is the same.
	if err := cl.ProduceSync(ctxT(t), kgo.StringRecord("new")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	select {
	case out := <-done:
		if out != "v4\nv5\nnew\n" {
			t.Errorf("--follow --from-beginning --count 3: %q", out)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("consume --follow --count 3 did not stop")
	}
}

// --follow starts at the end and runs until cancelled (Ctrl-C).
func TestConsumeFollow(t *testing.T) {
	t.Parallel()
	addr := startTestBroker(t)
	cli(t, "", "topic", "create", "tail", "-b", addr)
	cli(t, "old\n", "produce", "tail", "-b", addr)
	cl := kafkaClient(t, addr, kgo.DefaultProduceTopic("tail"))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr proctest.Buffer
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"consume", "tail", "-b", addr, "--follow", "--format", "{{.Value}}"}, strings.NewReader(""), &stdout, &stderr)
	}()
	// Until the consumer has listed the end offsets, new records may
	// count as old: produce until one shows.
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; stdout.String() == ""; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("nothing consumed; stderr:\n%s", stderr.String())
		}
		if err := cl.ProduceSync(ctxT(t), kgo.StringRecord(fmt.Sprint("probe-", i))).FirstErr(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, v := range []string{"new-1", "new-2"} {
		if err := cl.ProduceSync(ctxT(t), kgo.StringRecord(v)).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for !strings.HasSuffix(stdout.String(), "new-1\nnew-2\n") {
		if time.Now().After(deadline) {
			t.Fatalf("stdout %q", stdout.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("consume --follow did not stop when cancelled")
	}
	if strings.Contains(stdout.String(), "old") {
		t.Errorf("--follow printed a record from before it started:\n%s", stdout.String())
	}
	n := len(lines(stdout.String()))
	if want := fmt.Sprintf("%d records from topic \"tail\"\n", n); stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
}

func TestConsumeGroup(t *testing.T) {
	t.Parallel()
	addr := startTestBroker(t)
	cli(t, "", "topic", "create", "grouped", "--partitions", "2", "-b", addr)
	cli(t, "a\nb\nc\nd\ne\nf\ng\nh\n", "produce", "grouped", "-b", addr, "--partition", "0")
	cli(t, "i\nj\n", "produce", "grouped", "-b", addr, "--partition", "1")

	missing, err := missingGroupAPIs(ctxT(t), kadm.NewClient(kafkaClient(t, addr)))
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		want := fmt.Sprintf("runnel: the broker at %s does not serve consumer groups (no %s); consume without --group\n", addr, strings.Join(missing, ", "))
		if errOut := cliFails(t, "", "consume", "grouped", "-b", addr, "--group", "g"); errOut != want {
			t.Errorf("--group without a coordinator: %q, want %q", errOut, want)
		}
		t.Skipf("runnel does not serve consumer groups yet (missing %s): the group path of consume is untested", strings.Join(missing, ", "))
	}

	consume := func(args ...string) []string {
		out := cli(t, "", append([]string{"consume", "grouped", "-b", addr, "--group", "g", "--format", "{{.Value}}"}, args...)...)
		got := lines(out)
		slices.Sort(got)
		return got
	}
	first := consume("--count", "4")
	if len(first) != 4 {
		t.Fatalf("--count 4: %q", first)
	}
	rest := consume()
	all := append(slices.Clone(first), rest...)
	slices.Sort(all)
	if want := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}; !slices.Equal(all, want) {
		t.Fatalf("the two runs consumed %q and %q; together %q, want each record once: %q", first, rest, all, want)
	}
	if again := consume(); len(again) != 0 {
		t.Fatalf("a third run consumed %q: the offsets were not committed", again)
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	wantRefused := fmt.Sprintf("runnel: cannot reach a Kafka broker at %s: nothing is listening there (connection refused); start one with: runnel broker --listen %s, or point --bootstrap at a running broker\n", closed, closed)
	for _, args := range [][]string{
		{"topic", "list", "-b", closed}, {"produce", "t", "-b", closed}, {"consume", "t", "--bootstrap", closed},
	} {
		if errOut := cliFails(t, "", args...); errOut != wantRefused {
			t.Errorf("%q: %q, want %q", args, errOut, wantRefused)
		}
	}

	addr := startTestBroker(t)
	cli(t, "", "topic", "create", "t", "-b", addr)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"consume", "t", "--offset", "3"}, "runnel: --offset needs --partition: offsets are per partition\n"},
		{[]string{"consume", "t", "--offset", "3", "--partition", "0", "--from-beginning"}, "runnel: --from-beginning, --offset and --from-time each say where to start: give one\n"},
		{[]string{"consume", "t", "--from-time", "yesterday"}, "runnel: --from-time \"yesterday\": want a time like 2025-03-01T12:00:00Z (RFC 3339)\n"},
		{[]string{"consume", "t", "--format", "{{.Nope}}"}, "runnel: --format: template: format:1:2: executing \"format\" at <.Nope>: can't evaluate field Nope in type main.recordView\n"},
		{[]string{"consume", "t", "--format", "{{"}, "runnel: --format: template: format:1: unclosed action\n"},
		{[]string{"consume", "t", "--group", "g", "--partition", "0"}, "runnel: --group assigns the partitions itself: leave out --partition and --offset\n"},
		{[]string{"consume", "t", "--count", "-1"}, "runnel: --count -1: want a positive number of records, or 0 for no limit\n"},
		{[]string{"consume", "t", "--partition", "3"}, "runnel: topic \"t\" has 1 partition (0 to 0); there is no partition 3\n"},
		{[]string{"consume", "t", "--partition", "0", "--offset", "1"}, "runnel: --offset 1: partition 0 of topic \"t\" holds no records (the next one gets offset 0)\n"},
		{[]string{"produce", "t", "--acks", "2"}, "runnel: --acks \"2\": want all, 1 or 0\n"},
		{[]string{"produce", "t", "--header", "novalue"}, "runnel: --header \"novalue\": want key=value\n"},
		{[]string{"produce", "t", "--partition", "1"}, "runnel: topic \"t\" has 1 partition (0 to 0); there is no partition 1\n"},
		{[]string{"produce"}, "runnel: runnel produce takes one topic name, got 0 arguments\nRun 'runnel produce --help' for usage.\n"},
	} {
		if errOut := cliFails(t, "x\n", append(tc.args, "-b", addr)...); errOut != tc.want {
			t.Errorf("%q:\n%q\nwant\n%q", tc.args, errOut, tc.want)
		}
	}
}

// deleted finds records deleted under a consume while it reads: a gap
// before a fetch's first record that lies below the partition's log
// start. Gaps above it (aborted transactions, compaction) are no loss.
func TestConsumeStateDeleted(t *testing.T) {
	st := &consumeState{next: map[int32]int64{0: 10}, lastSeen: map[int32]int64{}, ends: map[int32]int64{}, pending: map[int32]bool{}}
	for _, c := range []struct {
		first, logStart, want int64
		seen                  int64
	}{
		{10, 0, 0, 19},   // no gap
		{25, 0, 0, 29},   // a gap above the log start
		{40, 35, 10, 49}, // 30 to 39 deleted
		{50, 55, 0, 59},  // no gap
	} {
		if got := st.deleted(0, c.first, c.logStart); got != c.want {
			t.Fatalf("deleted(first %d, log start %d) = %d, want %d", c.first, c.logStart, got, c.want)
		}
		st.seen(0, c.seen)
	}
	if got := st.deleted(1, 100, 100); got != 0 {
		t.Fatalf("a partition whose start is unknown: deleted %d", got)
	}
}
