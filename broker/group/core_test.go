package group

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The Core's golden tests: each file in testdata/ is a script of commands;
// below each command ("----") is what the Core answered and wrote. Run with
// -rewrite to regenerate the expected output, then review the diff:
//
//	go test ./broker/group -run TestCoreGolden -rewrite
//
// Commands (key=value arguments, all optional unless noted):
//
//	options min-session= max-session= initial-delay= partitions=   (first)
//	join g= m= inst= client= v= session= rebalance= type= protos=a,b meta= topics=t1,t2
//	sync g= m= gen= inst= v= assign=m1:x,m2:y type= proto=
//	heartbeat g= m= gen= inst= v=
//	leave g= m= v=        or  leave g= members=m1,inst:i2,m3 v=
//	commit g= m= gen= inst= v= offsets=t/0=5:meta,t/1=7
//	fetch g= v= topics=t/0,t/1          (no topics: all; v8 takes g=a,b)
//	describe groups=a,b v=
//	list states=Empty,Stable v=
//	delete-groups groups=a,b
//	offset-delete g= partitions=t/0,t/1
//	tick <duration>                      advance the fake clock
//	persist [fail=too-large|io]          complete every outstanding write
//	state g=                             dump a group
//	restart                              new Core from the persisted log
//	loading                              new empty Core left loading
//	finish-load
var rewrite = flag.Bool("rewrite", false, "rewrite the golden files of the group coordinator's tests")

func TestCoreGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			t.Parallel()
			runGolden(t, f)
		})
	}
}

type goldenCase struct {
	cmd      string
	comments []string
	want     []string
}

func parseGolden(t *testing.T, path string) []goldenCase {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	var comments []string
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			continue
		case strings.HasPrefix(line, "#"):
			comments = append(comments, line)
			continue
		}
		c := goldenCase{cmd: line, comments: comments}
		comments = nil
		if !sc.Scan() || sc.Text() != "----" {
			t.Fatalf("%s: %q is not followed by ----", path, line)
		}
		for sc.Scan() && sc.Text() != "" {
			c.want = append(c.want, sc.Text())
		}
		cases = append(cases, c)
	}
	return cases
}

func runGolden(t *testing.T, path string) {
	cases := parseGolden(t, path)
	h := newHarness(t)
	var out strings.Builder
	for _, c := range cases {
		got := h.run(c.cmd)
		for _, l := range c.comments {
			out.WriteString(l + "\n")
		}
		out.WriteString(c.cmd + "\n----\n")
		for _, l := range got {
			out.WriteString(l + "\n")
		}
		out.WriteString("\n")
		if !*rewrite && !slices.Equal(got, c.want) {
			t.Errorf("%s: %s\n got:\n\t%s\nwant:\n\t%s", path, c.cmd,
				strings.Join(got, "\n\t"), strings.Join(c.want, "\n\t"))
		}
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(strings.TrimSuffix(out.String(), "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// harness drives a Core with a fake clock and an in-memory log.
type harness struct {
	t       *testing.T
	opts    Options
	start   time.Time
	now     time.Time
	core    *Core
	nextReq uint64
	ids     map[string]int // member id counters per prefix
	pending []Write        // emitted, not yet persisted
	log     map[int32][]Record
}

func newHarness(t *testing.T) *harness {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	h := &harness{t: t, start: start, now: start, ids: map[string]int{}, log: map[int32][]Record{}}
	h.opts = Options{InitialRebalanceDelay: NoInitialRebalanceDelay}
	return h
}

func (h *harness) memberID(prefix string) string {
	h.ids[prefix]++
	return fmt.Sprintf("%s-%d", prefix, h.ids[prefix])
}

func (h *harness) newCore() {
	o := h.opts
	o.MemberID = h.memberID
	c, err := NewCore(&o, h.now)
	if err != nil {
		h.t.Fatal(err)
	}
	h.core = c
}

func (h *harness) ensureCore() {
	if h.core == nil {
		h.newCore()
		h.core.FinishLoad()
	}
}

type args map[string]string

func (a args) str(k, def string) string {
	if v, ok := a[k]; ok {
		return v
	}
	return def
}

func (a args) num(t *testing.T, k string, def int64) int64 {
	v, ok := a[k]
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", k, v, err)
	}
	return n
}

func (a args) dur(t *testing.T, k string, def time.Duration) time.Duration {
	v, ok := a[k]
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", k, v, err)
	}
	return d
}

func (a args) strp(k string) *string {
	if v, ok := a[k]; ok {
		return &v
	}
	return nil
}

func (a args) list(k string) []string {
	v, ok := a[k]
	if !ok || v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

func (h *harness) run(line string) []string {
	fields := strings.Fields(line)
	cmd, a := fields[0], args{}
	var positional []string
	for _, f := range fields[1:] {
		if k, v, ok := strings.Cut(f, "="); ok {
			a[k] = v
		} else {
			positional = append(positional, f)
		}
	}
	t := h.t
	switch cmd {
	case "options":
		h.opts.MinSessionTimeout = a.dur(t, "min-session", 0)
		h.opts.MaxSessionTimeout = a.dur(t, "max-session", 0)
		if d := a.dur(t, "initial-delay", -1); d >= 0 {
			h.opts.InitialRebalanceDelay = d
			if d == 0 {
				h.opts.InitialRebalanceDelay = NoInitialRebalanceDelay
			}
		}
		h.opts.Partitions = int(a.num(t, "partitions", 1))
		h.newCore()
		h.core.FinishLoad()
		return h.collect()
	case "loading":
		h.newCore()
		return h.collect()
	case "finish-load":
		h.core.FinishLoad()
		return h.collect()
	case "restart":
		h.core.Shutdown()
		out := h.collect()
		h.pending = nil
		h.newCore()
		for p := int32(0); p < int32(h.opts.Partitions)+1; p++ {
			for _, r := range h.log[p] {
				if err := h.core.Replay(r.Key, r.Value); err != nil {
					out = append(out, "replay: "+err.Error())
				}
			}
		}
		h.core.FinishLoad()
		return append(out, h.collect()...)
	case "tick":
		d, err := time.ParseDuration(positional[0])
		if err != nil {
			t.Fatal(err)
		}
		h.ensureCore()
		h.now = h.now.Add(d)
		h.core.Advance(h.now)
		return h.collect()
	case "persist":
		h.ensureCore()
		var err error
		switch a.str("fail", "") {
		case "too-large":
			err = fmt.Errorf("append: %w", ErrTooLarge)
		case "io":
			err = errors.New("append: input/output error")
		}
		ws := h.pending
		h.pending = nil
		for _, w := range ws {
			if err == nil {
				h.log[w.Partition] = append(h.log[w.Partition], w.Records...)
			}
			h.core.WriteDone(w.ID, err)
		}
		return h.collect()
	case "state":
		h.ensureCore()
		return h.dumpGroup(a.str("g", ""))
	}
	h.ensureCore()
	req := h.request(cmd, a)
	h.nextReq++
	h.core.Handle(h.nextReq, Client{ID: a.str("client", "c"), Host: "/10.0.0.1"}, req)
	return h.collect()
}

func (h *harness) request(cmd string, a args) kmsg.Request {
	t := h.t
	v := int16(a.num(t, "v", -1))
	set := func(r kmsg.Request, max int16) kmsg.Request {
		if v < 0 {
			v = max
		}
		r.SetVersion(v)
		return r
	}
	switch cmd {
	case "join":
		r := kmsg.NewPtrJoinGroupRequest()
		r.Group, r.MemberID, r.InstanceID = a.str("g", "g"), a.str("m", ""), a.strp("inst")
		r.SessionTimeoutMillis = int32(a.dur(t, "session", 10*time.Second) / time.Millisecond)
		r.RebalanceTimeoutMillis = int32(a.dur(t, "rebalance", 30*time.Second) / time.Millisecond)
		r.ProtocolType = a.str("type", "consumer")
		protos := a.list("protos")
		if protos == nil {
			protos = []string{"range"}
		}
		for _, p := range protos {
			meta := []byte(a.str("meta", "m"))
			if topics := a.list("topics"); topics != nil {
				cm := kmsg.NewConsumerMemberMetadata()
				cm.Topics = topics
				meta = cm.AppendTo(nil)
			}
			r.Protocols = append(r.Protocols, kmsg.JoinGroupRequestProtocol{Name: p, Metadata: meta})
		}
		return set(r, 9)
	case "sync":
		r := kmsg.NewPtrSyncGroupRequest()
		r.Group, r.MemberID, r.InstanceID = a.str("g", "g"), a.str("m", ""), a.strp("inst")
		r.Generation = int32(a.num(t, "gen", 0))
		r.ProtocolType, r.Protocol = a.strp("type"), a.strp("proto")
		for _, x := range a.list("assign") {
			m, as, _ := strings.Cut(x, ":")
			r.GroupAssignment = append(r.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: m, MemberAssignment: []byte(as)})
		}
		return set(r, 5)
	case "heartbeat":
		r := kmsg.NewPtrHeartbeatRequest()
		r.Group, r.MemberID, r.InstanceID = a.str("g", "g"), a.str("m", ""), a.strp("inst")
		r.Generation = int32(a.num(t, "gen", 0))
		return set(r, 4)
	case "leave":
		r := kmsg.NewPtrLeaveGroupRequest()
		r.Group, r.MemberID = a.str("g", "g"), a.str("m", "")
		for _, x := range a.list("members") {
			lm := kmsg.NewLeaveGroupRequestMember()
			if inst, ok := strings.CutPrefix(x, "inst:"); ok {
				lm.InstanceID = &inst
			} else {
				lm.MemberID = x
			}
			r.Members = append(r.Members, lm)
		}
		if r.Members == nil && r.MemberID != "" {
			r.Members = []kmsg.LeaveGroupRequestMember{{MemberID: r.MemberID, InstanceID: a.strp("inst")}}
		}
		return set(r, 5)
	case "commit":
		r := kmsg.NewPtrOffsetCommitRequest()
		r.Group, r.MemberID, r.InstanceID = a.str("g", "g"), a.str("m", ""), a.strp("inst")
		r.Generation = int32(a.num(t, "gen", -1))
		for _, x := range a.list("offsets") {
			tp, o, _ := strings.Cut(x, "=")
			topic, p := splitTP(t, tp)
			off, meta, hasMeta := strings.Cut(o, ":")
			n, _ := strconv.ParseInt(off, 10, 64)
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch = p, n, 7
			if hasMeta {
				if meta == "BIG" {
					meta = strings.Repeat("x", 5000)
				}
				rp.Metadata = &meta
			}
			i := slices.IndexFunc(r.Topics, func(rt kmsg.OffsetCommitRequestTopic) bool { return rt.Topic == topic })
			if i < 0 {
				rt := kmsg.NewOffsetCommitRequestTopic()
				rt.Topic = topic
				r.Topics = append(r.Topics, rt)
				i = len(r.Topics) - 1
			}
			r.Topics[i].Partitions = append(r.Topics[i].Partitions, rp)
		}
		return set(r, 8)
	case "fetch":
		r := kmsg.NewPtrOffsetFetchRequest()
		r = set(r, 8).(*kmsg.OffsetFetchRequest)
		var topics []kmsg.OffsetFetchRequestTopic
		if _, ok := a["topics"]; ok {
			topics = []kmsg.OffsetFetchRequestTopic{}
			for _, x := range a.list("topics") {
				topic, p := splitTP(t, x)
				i := slices.IndexFunc(topics, func(rt kmsg.OffsetFetchRequestTopic) bool { return rt.Topic == topic })
				if i < 0 {
					topics = append(topics, kmsg.OffsetFetchRequestTopic{Topic: topic})
					i = len(topics) - 1
				}
				topics[i].Partitions = append(topics[i].Partitions, p)
			}
		}
		if r.Version >= 8 {
			for _, g := range a.list("g") {
				rg := kmsg.NewOffsetFetchRequestGroup()
				rg.Group = g
				if topics != nil {
					rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{}
					for _, rt := range topics {
						rg.Topics = append(rg.Topics, kmsg.OffsetFetchRequestGroupTopic{Topic: rt.Topic, Partitions: rt.Partitions})
					}
				}
				r.Groups = append(r.Groups, rg)
			}
		} else {
			r.Group, r.Topics = a.str("g", "g"), topics
		}
		return r
	case "describe":
		r := kmsg.NewPtrDescribeGroupsRequest()
		r.Groups = a.list("groups")
		return set(r, 5)
	case "list":
		r := kmsg.NewPtrListGroupsRequest()
		r.StatesFilter = a.list("states")
		return set(r, 4)
	case "delete-groups":
		r := kmsg.NewPtrDeleteGroupsRequest()
		r.Groups = a.list("groups")
		return set(r, 2)
	case "offset-delete":
		r := kmsg.NewPtrOffsetDeleteRequest()
		r.Group = a.str("g", "g")
		for _, x := range a.list("partitions") {
			topic, p := splitTP(t, x)
			i := slices.IndexFunc(r.Topics, func(rt kmsg.OffsetDeleteRequestTopic) bool { return rt.Topic == topic })
			if i < 0 {
				r.Topics = append(r.Topics, kmsg.OffsetDeleteRequestTopic{Topic: topic})
				i = len(r.Topics) - 1
			}
			r.Topics[i].Partitions = append(r.Topics[i].Partitions, kmsg.OffsetDeleteRequestTopicPartition{Partition: p})
		}
		return set(r, 0)
	}
	t.Fatalf("unknown command %q", cmd)
	return nil
}

func splitTP(t *testing.T, s string) (string, int32) {
	topic, p, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(p)
	if !ok || err != nil {
		t.Fatalf("bad topic/partition %q", s)
	}
	return topic, int32(n)
}

// collect formats what the Core produced.
func (h *harness) collect() []string {
	rd := h.core.Ready()
	var out []string
	for _, r := range rd.Replies {
		out = append(out, fmt.Sprintf("r%d %s: %s", r.ID, kmsg.NameForKey(r.Resp.Key()), formatResponse(r.Resp)))
	}
	for _, w := range rd.Writes {
		h.pending = append(h.pending, w)
		for i, r := range w.Records {
			prefix := fmt.Sprintf("w%d p%d:", w.ID, w.Partition)
			if i > 0 {
				prefix = strings.Repeat(" ", len(prefix))
			}
			out = append(out, prefix+" "+formatRecord(h.t, r))
		}
	}
	return out
}

func code(c int16) string {
	if c == 0 {
		return "ok"
	}
	if err := kerr.ErrorForCode(c); err != nil {
		var ke *kerr.Error
		if errors.As(err, &ke) {
			return ke.Message
		}
	}
	return fmt.Sprint("code", c)
}

func deref(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

func formatResponse(resp kmsg.Response) string {
	var b strings.Builder
	switch r := resp.(type) {
	case *kmsg.JoinGroupResponse:
		if r.ErrorCode != 0 {
			fmt.Fprintf(&b, "%s member=%s", code(r.ErrorCode), r.MemberID)
			if r.Generation != -1 {
				fmt.Fprintf(&b, " gen=%d leader=%s", r.Generation, r.LeaderID)
			}
			break
		}
		fmt.Fprintf(&b, "gen=%d type=%s proto=%s leader=%s member=%s", r.Generation, deref(r.ProtocolType), deref(r.Protocol), r.LeaderID, r.MemberID)
		if r.SkipAssignment {
			b.WriteString(" skip-assignment")
		}
		if len(r.Members) > 0 {
			var ms []string
			for _, m := range r.Members {
				s := m.MemberID
				if m.InstanceID != nil {
					s += "(" + *m.InstanceID + ")"
				}
				ms = append(ms, s)
			}
			fmt.Fprintf(&b, " members=[%s]", strings.Join(ms, " "))
		}
	case *kmsg.SyncGroupResponse:
		if r.ErrorCode != 0 {
			b.WriteString(code(r.ErrorCode))
			break
		}
		fmt.Fprintf(&b, "assignment=%q", r.MemberAssignment)
		if r.Version >= 5 {
			fmt.Fprintf(&b, " type=%s proto=%s", deref(r.ProtocolType), deref(r.Protocol))
		}
	case *kmsg.HeartbeatResponse:
		b.WriteString(code(r.ErrorCode))
	case *kmsg.LeaveGroupResponse:
		b.WriteString(code(r.ErrorCode))
		for _, m := range r.Members {
			id := m.MemberID
			if m.InstanceID != nil {
				id += "(" + *m.InstanceID + ")"
			}
			fmt.Fprintf(&b, " %s=%s", id, code(m.ErrorCode))
		}
	case *kmsg.OffsetCommitResponse:
		var ps []string
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				ps = append(ps, fmt.Sprintf("%s/%d=%s", t.Topic, p.Partition, code(p.ErrorCode)))
			}
		}
		b.WriteString(strings.Join(ps, " "))
	case *kmsg.OffsetFetchResponse:
		part := func(topic string, p int32, off int64, epoch int32, meta *string, c int16) string {
			s := fmt.Sprintf("%s/%d=%d", topic, p, off)
			if off >= 0 {
				s += fmt.Sprintf("(e%d,%q)", epoch, deref(meta))
			}
			if c != 0 {
				s += ":" + code(c)
			}
			return s
		}
		if r.Version >= 8 {
			var gs []string
			for _, g := range r.Groups {
				s := g.Group + ":"
				if g.ErrorCode != 0 {
					s += " " + code(g.ErrorCode)
				}
				for _, t := range g.Topics {
					for _, p := range t.Partitions {
						s += " " + part(t.Topic, p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode)
					}
				}
				gs = append(gs, s)
			}
			b.WriteString(strings.Join(gs, "; "))
			break
		}
		b.WriteString(code(r.ErrorCode))
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				b.WriteString(" " + part(t.Topic, p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode))
			}
		}
	case *kmsg.DescribeGroupsResponse:
		var gs []string
		for _, g := range r.Groups {
			s := fmt.Sprintf("%s %s", g.Group, g.State)
			if g.ErrorCode != 0 {
				s += " " + code(g.ErrorCode)
			}
			if g.ProtocolType != "" || g.Protocol != "" {
				s += fmt.Sprintf(" %s/%s", g.ProtocolType, g.Protocol)
			}
			for _, m := range g.Members {
				s += " " + m.MemberID
				if m.InstanceID != nil {
					s += "(" + *m.InstanceID + ")"
				}
				s += fmt.Sprintf("[%s %s", m.ClientID, m.ClientHost)
				if len(m.MemberAssignment) > 0 {
					s += fmt.Sprintf(" %q", m.MemberAssignment)
				}
				s += "]"
			}
			gs = append(gs, s)
		}
		b.WriteString(strings.Join(gs, "; "))
	case *kmsg.ListGroupsResponse:
		b.WriteString(code(r.ErrorCode))
		for _, g := range r.Groups {
			fmt.Fprintf(&b, " %s(%q,%s)", g.Group, g.ProtocolType, g.GroupState)
		}
	case *kmsg.DeleteGroupsResponse:
		var gs []string
		for _, g := range r.Groups {
			gs = append(gs, g.Group+"="+code(g.ErrorCode))
		}
		b.WriteString(strings.Join(gs, " "))
	case *kmsg.OffsetDeleteResponse:
		b.WriteString(code(r.ErrorCode))
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, " %s/%d=%s", t.Topic, p.Partition, code(p.ErrorCode))
			}
		}
	default:
		fmt.Fprintf(&b, "%+v", resp)
	}
	return b.String()
}

func formatRecord(t *testing.T, r Record) string {
	d, err := decodeRecord(r.Key, r.Value)
	if err != nil {
		t.Fatalf("written record does not decode: %v", err)
	}
	switch {
	case d.isOffset && d.offset == nil:
		return fmt.Sprintf("offset %s %s/%d tombstone", d.group, d.topic, d.partition)
	case d.isOffset:
		return fmt.Sprintf("offset %s %s/%d=%d(e%d,%q)", d.group, d.topic, d.partition, d.offset.offset, d.offset.leaderEpoch, d.offset.metadata)
	case d.meta == nil:
		return fmt.Sprintf("group %s tombstone", d.group)
	}
	m := d.meta
	s := fmt.Sprintf("group %s gen=%d type=%q proto=%s leader=%s", d.group, m.Generation, m.ProtocolType, deref(m.Protocol), deref(m.Leader))
	for _, vm := range m.Members {
		s += " " + vm.MemberID
		if vm.InstanceID != nil {
			s += "(" + *vm.InstanceID + ")"
		}
		s += fmt.Sprintf("[%q]", vm.Assignment)
	}
	return s
}

// dumpGroup prints a group's full state.
func (h *harness) dumpGroup(id string) []string {
	g := h.core.groups[id]
	if g == nil {
		return []string{id + ": none"}
	}
	rel := func(at time.Time) string { return at.Sub(h.now).String() }
	s := fmt.Sprintf("%s: %s gen=%d type=%q proto=%q leader=%q", id, g.state, g.generation, g.protocolType, g.protocol, g.leader)
	out := []string{s}
	deadline := func(seq uint64) string {
		for _, tm := range h.core.timers {
			if tm.seq == seq {
				return rel(tm.at)
			}
		}
		return "?"
	}
	for _, m := range g.ordered() {
		ms := "  member " + m.id
		if m.instanceID != nil {
			ms += " inst=" + *m.instanceID
		}
		if m.join != nil {
			ms += " joining"
		}
		if m.sync != nil {
			ms += " syncing"
		}
		if m.isNew {
			ms += " new"
		}
		if g.pendingSync[m.id] {
			ms += " pending-sync"
		}
		if m.timer != 0 {
			ms += " session-expires-in=" + deadline(m.timer)
		}
		if len(m.assignment) > 0 {
			ms += fmt.Sprintf(" assignment=%q", m.assignment)
		}
		out = append(out, ms)
	}
	for _, p := range sortedKeys(g.pending) {
		out = append(out, "  pending "+p+" expires-in="+deadline(g.pending[p].timer))
	}
	if g.joinTimer != 0 {
		out = append(out, "  join-phase-ends-in="+deadline(g.joinTimer))
	}
	if g.syncTimer != 0 {
		out = append(out, "  sync-deadline-in="+deadline(g.syncTimer))
	}
	for _, tp := range sortedPartitions(g.offsets) {
		o := g.offsets[tp]
		out = append(out, fmt.Sprintf("  offset %s/%d=%d(e%d,%q)", tp.topic, tp.partition, o.offset, o.leaderEpoch, o.metadata))
	}
	return out
}
