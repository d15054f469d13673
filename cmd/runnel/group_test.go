package main

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// groupMember starts a franz-go consumer in group on topic, reading from
// the start when the group has no offsets and committing only when told.
// The caller closes it (leaving the group).
func groupMember(t *testing.T, addr, group, topic, clientID string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID(clientID),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// pollValues polls cl until it has n records and returns their values,
// sorted.
func pollValues(t *testing.T, cl *kgo.Client, n int) []string {
	t.Helper()
	ctx := ctxT(t)
	var got []string
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %q, want %d records", got, n)
		}
		for _, e := range fs.Errors() {
			t.Fatalf("consuming partition %d: %v", e.Partition, e.Err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	slices.Sort(got)
	return got
}

// committed returns the group's committed offsets of topic, by partition.
func committed(t *testing.T, addr, group, topic string) map[int32]int64 {
	t.Helper()
	os, err := kadm.NewClient(kafkaClient(t, addr)).FetchOffsets(ctxT(t), group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	os.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil {
			out[o.Partition] = o.At
		}
	})
	return out
}

func equalOffsets(t *testing.T, what string, got, want map[int32]int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %v, want %v", what, got, want)
		return
	}
	for p, o := range want {
		if got[p] != o {
			t.Errorf("%s: %v, want %v", what, got, want)
			return
		}
	}
}

// squeeze collapses the runs of spaces of tabwriter output and drops the
// empty lines.
func squeeze(s string) string {
	var out []string
	for _, l := range lines(s) {
		if l != "" {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
	}
	return strings.Join(out, "\n") + "\n"
}

// The group commands against a group with a real franz-go member: lag
// while it is active, refusals while it is, and dry-run and executed
// offset resets once it has left, which the next member then starts from.
func TestGroupCommands(t *testing.T) {
	t.Parallel()
	addr := startTestBroker(t)
	group := func(args ...string) []string { return append(append([]string{"group"}, args...), "-b", addr) }

	if out := cli(t, "", group("list")...); out != "no consumer groups (consuming with a group creates one: runnel consume TOPIC --group NAME)\n" {
		t.Errorf("list of none: %q", out)
	}
	cli(t, "", "topic", "create", "orders", "--partitions", "3", "-b", addr)
	cli(t, "a\nb\nc\nd\ne\n", "produce", "orders", "--partition", "0", "-b", addr)
	cli(t, "f\ng\nh\n", "produce", "orders", "--partition", "1", "-b", addr)

	// A member reads all eight records and commits; then two more arrive
	// in partition 0, which it does not commit: the group lags by 2.
	member := groupMember(t, addr, "readers", "orders", "reader-1")
	defer member.Close()
	if got := pollValues(t, member, 8); !slices.Equal(got, []string{"a", "b", "c", "d", "e", "f", "g", "h"}) {
		t.Fatalf("the member consumed %q", got)
	}
	if err := member.CommitUncommittedOffsets(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	cli(t, "i\nj\n", "produce", "orders", "--partition", "0", "-b", addr)

	out := cli(t, "", group("describe", "readers")...)
	m := regexp.MustCompile(`(?m)^(\S+) +reader-1 +(\S+) +orders: 0,1,2$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("describe does not show the member with its client id and partitions:\n%s", out)
	}
	id := regexp.QuoteMeta(m[1])
	mustMatch(t, "describe while active", out,
		`^group +readers\n`, `(?m)^state +Stable, 1 member$`, `(?m)^protocol +consumer, assignor cooperative-sticky$`,
		`(?m)^coordinator +node 0 at `+regexp.QuoteMeta(addr)+`$`,
		`(?m)^MEMBER +CLIENT-ID +HOST +ASSIGNED$`,
		`(?m)^TOPIC +PARTITION +CURRENT-OFFSET +LOG-END-OFFSET +LAG +MEMBER$`,
		`(?m)^orders +0 +5 +7 +2 +`+id+`$`, `(?m)^orders +1 +3 +3 +0 +`+id+`$`, `(?m)^orders +2 +- +0 +0 +`+id+`$`,
		`(?m)^total lag 2$`)
	if out := squeeze(cli(t, "", group("list")...)); out != "GROUP STATE PROTOCOL-TYPE MEMBERS\nreaders Stable consumer 1\n" {
		t.Errorf("list: %q", out)
	}

	// Kafka refuses to move the offsets of, or delete, a group with
	// members; so does runnel group, dry run or not.
	notEmpty := "runnel: cannot reset the offsets of group \"readers\": the group is not empty: it has 1 active member (state Stable). " +
		"Offsets can only be reset while the group is inactive: stop its consumers, then try again\n"
	for _, args := range [][]string{
		group("reset-offsets", "readers", "--topic", "orders", "--to-earliest"),
		group("reset-offsets", "readers", "--topic", "orders", "--to-earliest", "--execute"),
	} {
		if errOut := cliFails(t, "", args...); errOut != notEmpty {
			t.Errorf("%q:\n%q\nwant\n%q", args, errOut, notEmpty)
		}
	}
	want := "runnel: cannot delete group \"readers\": the group is not empty: it has 1 active member (state Stable). " +
		"Only an inactive group can be deleted: stop its consumers, then try again\n"
	if errOut := cliFails(t, "", group("delete", "readers")...); errOut != want {
		t.Errorf("delete while active:\n%q\nwant\n%q", errOut, want)
	}
	equalOffsets(t, "offsets after the refusals", committed(t, addr, "readers", "orders"), map[int32]int64{0: 5, 1: 3})

	// The member leaves: the group is inactive and keeps its offsets.
	member.Close()
	out = cli(t, "", group("describe", "readers")...)
	mustMatch(t, "describe when empty", out, `(?m)^state +Empty, no active members$`,
		`(?m)^orders +0 +5 +7 +2 +-$`, `(?m)^orders +1 +3 +3 +0 +-$`, `(?m)^total lag 2$`)
	if strings.Contains(out, "MEMBER ") && strings.Contains(out, "CLIENT-ID") {
		t.Errorf("describe of an empty group lists members:\n%s", out)
	}

	// A dry run prints the plan and changes nothing.
	out = squeeze(cli(t, "", group("reset-offsets", "readers", "--topic", "orders", "--to-earliest")...))
	want = "group \"readers\" is inactive (Empty): its offsets can be reset\n" +
		"TOPIC PARTITION CURRENT-OFFSET NEW-OFFSET LOG-START-OFFSET LOG-END-OFFSET LAG-AFTER\n" +
		"orders 0 5 0 0 7 7\norders 1 3 0 0 3 3\norders 2 - 0 0 0 0\n" +
		"dry run: nothing changed. Run again with --execute to commit these offsets.\n"
	if out != want {
		t.Errorf("dry run:\n%s\nwant\n%s", out, want)
	}
	equalOffsets(t, "offsets after the dry run", committed(t, addr, "readers", "orders"), map[int32]int64{0: 5, 1: 3})

	// --execute commits.
	out = squeeze(cli(t, "", group("reset-offsets", "readers", "--topic", "orders", "--partition", "0", "--to-offset", "1", "--execute")...))
	want = "group \"readers\" is inactive (Empty): its offsets can be reset\n" +
		"TOPIC PARTITION CURRENT-OFFSET NEW-OFFSET LOG-START-OFFSET LOG-END-OFFSET LAG-AFTER\n" +
		"orders 0 5 1 0 7 6\n" +
		"committed the new offsets of group \"readers\": 1 partition of topic \"orders\" reset\n"
	if out != want {
		t.Errorf("--to-offset --execute:\n%s\nwant\n%s", out, want)
	}
	equalOffsets(t, "offsets after --to-offset 1", committed(t, addr, "readers", "orders"), map[int32]int64{0: 1, 1: 3})

	// --shift-by moves from the committed offsets, clamped to the log.
	out = squeeze(cli(t, "", group("reset-offsets", "readers", "--topic", "orders", "--partition", "0,1", "--shift-by", "1", "--execute")...))
	mustMatch(t, "--shift-by", out, `(?m)^orders 0 1 2 0 7 5$`, `(?m)^orders 1 3 3 0 3 0$`,
		`(?m)^note: partition 1: offset 4 is past the log end, so it is 3$`, `(?m)^committed the new offsets of group "readers": 2 partitions of topic "orders" reset$`)
	equalOffsets(t, "offsets after --shift-by 1", committed(t, addr, "readers", "orders"), map[int32]int64{0: 2, 1: 3})
	if errOut := cliFails(t, "", group("reset-offsets", "readers", "--topic", "orders", "--shift-by", "-1")...); errOut !=
		"runnel: cannot shift the offsets of group \"readers\": it has no committed offset for partition 2 of topic \"orders\" to shift from; use --to-earliest, --to-latest, --to-offset or --to-datetime there\n" {
		t.Errorf("--shift-by without a commit: %q", errOut)
	}
	// --to-datetime after every record is the log end; before, the start.
	mustMatch(t, "--to-datetime in the future", cli(t, "", group("reset-offsets", "readers", "--topic", "orders", "--to-datetime", "2999-01-01T00:00:00Z")...),
		`(?m)^orders +0 +2 +7 +0 +7 +0$`, `(?m)^orders +1 +3 +3 +0 +3 +0$`, `(?m)^orders +2 +- +0 +0 +0 +0$`)
	mustMatch(t, "--to-datetime in the past", cli(t, "", group("reset-offsets", "readers", "--topic", "orders", "--to-datetime", "2000-01-01T00:00:00+02:00", "--partition", "0")...),
		`(?m)^orders +0 +2 +0 +0 +7 +7$`)
	mustMatch(t, "describe after the resets", cli(t, "", group("describe", "readers")...),
		`(?m)^orders +0 +2 +7 +5 +-$`, `(?m)^orders +1 +3 +3 +0 +-$`, `(?m)^total lag 5$`)

	// The next member starts where the reset put the group.
	member = groupMember(t, addr, "readers", "orders", "reader-2")
	if got := pollValues(t, member, 5); !slices.Equal(got, []string{"c", "d", "e", "i", "j"}) {
		t.Errorf("after the reset, the group consumed %q, want c d e i j", got)
	}
	member.Close()

	// Resetting a group that does not exist creates it, as in Kafka.
	out = squeeze(cli(t, "", group("reset-offsets", "fresh", "--topic", "orders", "--to-latest", "--execute")...))
	want = "group \"fresh\" does not exist yet: --execute creates it with these offsets\n" +
		"TOPIC PARTITION CURRENT-OFFSET NEW-OFFSET LOG-START-OFFSET LOG-END-OFFSET LAG-AFTER\n" +
		"orders 0 - 7 0 7 0\norders 1 - 3 0 3 0\norders 2 - 0 0 0 0\n" +
		"committed the new offsets of group \"fresh\": 3 partitions of topic \"orders\" reset\n"
	if out != want {
		t.Errorf("reset of a new group:\n%s\nwant\n%s", out, want)
	}
	if out := squeeze(cli(t, "", group("list")...)); out != "GROUP STATE PROTOCOL-TYPE MEMBERS\nfresh Empty - 0\nreaders Empty consumer 0\n" {
		t.Errorf("list: %q", out)
	}
	mustMatch(t, "describe a group without group management", cli(t, "", group("describe", "fresh")...),
		`(?m)^protocol +none \(offsets committed without group management\)$`, `(?m)^orders +0 +7 +7 +0 +-$`, `(?m)^total lag 0$`)

	// Delete: one that exists, one that does not.
	code, out, errOut := runCLI(t, group("delete", "readers", "nope")...)
	if code != 1 || out != "deleted group \"readers\" and its committed offsets\n" ||
		errOut != fmt.Sprintf("runnel: group \"nope\" does not exist (see the groups with: runnel group list --bootstrap %s)\n", addr) {
		t.Errorf("delete readers nope: exit %d\n%s%s", code, out, errOut)
	}
	if out := squeeze(cli(t, "", group("list")...)); out != "GROUP STATE PROTOCOL-TYPE MEMBERS\nfresh Empty - 0\n" {
		t.Errorf("list after delete: %q", out)
	}
	if got := committed(t, addr, "readers", "orders"); len(got) != 0 {
		t.Errorf("the deleted group still has offsets %v", got)
	}
	if out := cli(t, "", group("delete", "fresh")...); out != "deleted group \"fresh\" and its committed offsets\n" {
		t.Errorf("delete fresh: %q", out)
	}
}

func TestGroupErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	wantRefused := fmt.Sprintf("runnel: cannot reach a Kafka broker at %s: nothing is listening there (connection refused); start one with: runnel broker --listen %s, or point --bootstrap at a running broker\n", closed, closed)
	for _, args := range [][]string{
		{"group", "list", "-b", closed}, {"group", "describe", "g", "-b", closed},
		{"group", "reset-offsets", "g", "--topic", "t", "--to-earliest", "-b", closed}, {"group", "delete", "g", "-b", closed},
	} {
		if errOut := cliFails(t, "", args...); errOut != wantRefused {
			t.Errorf("%q: %q, want %q", args, errOut, wantRefused)
		}
	}

	addr := startTestBroker(t)
	cli(t, "", "topic", "create", "orders", "--partitions", "2", "-b", addr)
	unknown := fmt.Sprintf("runnel: group \"nope\" does not exist (see the groups with: runnel group list --bootstrap %s)\n", addr)
	usage := "\nRun 'runnel group reset-offsets --help' for usage.\n"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"describe", "nope"}, unknown},
		{[]string{"delete", "nope"}, unknown},
		{[]string{"describe"}, "runnel: runnel group describe takes one group name, got 0 arguments\nRun 'runnel group describe --help' for usage.\n"},
		{[]string{"describe", ""}, "runnel: the group name is empty: name a group (see them with: runnel group list)\n"},
		{[]string{"delete"}, "runnel: name at least one group to delete\nRun 'runnel group delete --help' for usage.\n"},
		{[]string{"list", "x"}, "runnel: runnel group list takes no arguments, got [\"x\"]\nRun 'runnel group list --help' for usage.\n"},
		{[]string{"reset-offsets", "g", "--to-earliest"}, "runnel: name the topic whose offsets to reset with --topic" + usage},
		{[]string{"reset-offsets", "g", "--topic", "orders"}, "runnel: say where to reset the offsets to: --to-earliest, --to-latest, --to-offset N, --to-datetime TIME or --shift-by N" + usage},
		{[]string{"reset-offsets", "g", "--topic", "orders", "--to-earliest", "--shift-by", "2"}, "runnel: --to-earliest and --shift-by each say where to reset the offsets to: give one\n"},
		{[]string{"reset-offsets", "g", "--topic", "orders", "--to-offset", "-1"}, "runnel: --to-offset -1: offsets start at 0\n"},
		{[]string{"reset-offsets", "g", "--topic", "orders", "--to-datetime", "yesterday"}, "runnel: --to-datetime \"yesterday\": want a time like 2025-03-01T12:00:00Z (RFC 3339)\n"},
		{[]string{"reset-offsets", "g", "--topic", "orders", "--to-latest", "--partition", "2"}, "runnel: topic \"orders\" has 2 partitions (0 to 1); there is no partition 2\n"},
		{[]string{"reset-offsets", "g", "--topic", "nope", "--to-latest"}, fmt.Sprintf("runnel: topic \"nope\" does not exist (create it with: runnel topic create nope --bootstrap %s)\n", addr)},
	} {
		if errOut := cliFails(t, "", append(append([]string{"group"}, tc.args...), "-b", addr)...); errOut != tc.want {
			t.Errorf("%q:\n%q\nwant\n%q", tc.args, errOut, tc.want)
		}
	}
}
