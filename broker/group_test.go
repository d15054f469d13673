package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/broker/group"
)

// Consumer groups with real franz-go clients: the classic protocol end to
// end, committed offsets, restarts, and the admin APIs. Every wait is for
// a condition, with the test's deadline; none sleeps.

// groupOpts make rebalances quick: no initial delay, short sessions.
func groupOpts() []Opt {
	return []Opt{GroupInitialRebalanceDelay(0), GroupMinSessionTimeout(100 * time.Millisecond)}
}

// groupConsumerOpts are the client options of a consumer in a test group.
func groupConsumerOpts(groupID, topic string, extra ...kgo.Opt) []kgo.Opt {
	return append([]kgo.Opt{
		kgo.ConsumerGroup(groupID),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.HeartbeatInterval(50 * time.Millisecond),
		kgo.SessionTimeout(3 * time.Second),
		kgo.RebalanceTimeout(10 * time.Second),
		kgo.FetchMaxWait(200 * time.Millisecond),
	}, extra...)
}

// groupCreateTopic creates a topic with n partitions.
func groupCreateTopic(t *testing.T, adm *kadm.Client, name string, n int32) {
	t.Helper()
	resp, err := adm.CreateTopic(ctxT(t), n, 1, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %q: %v", name, err)
	}
}

// groupProduce writes n records "<prefix>-<i>" spread over partitions.
func groupProduce(t *testing.T, cl *kgo.Client, topic, prefix string, n, partitions int) []string {
	t.Helper()
	var vals []string
	for i := 0; i < n; i++ {
		v := fmt.Sprintf("%s-%d", prefix, i)
		r := &kgo.Record{Topic: topic, Partition: int32(i % partitions), Value: []byte(v)}
		if err := cl.ProduceSync(ctxT(t), r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		vals = append(vals, v)
	}
	return vals
}

// waitUntil polls cond until it holds or the test's deadline passes; the
// failure names what was awaited and the last state seen.
func waitUntil(t *testing.T, ctx context.Context, what string, cond func() (bool, string)) {
	t.Helper()
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v; last seen: %s", what, ctx.Err(), last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// testConsumer polls in its own goroutine and records what it gets.
type testConsumer struct {
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	mu  sync.Mutex
	got map[string]int // value -> times seen
	rec []*kgo.Record
}

func startConsumer(t *testing.T, b *Broker, opts ...kgo.Opt) *testConsumer {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Addr())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &testConsumer{cl: cl, cancel: cancel, done: make(chan struct{}), got: map[string]int{}}
	go func() {
		defer close(c.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			c.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				c.got[string(r.Value)]++
				c.rec = append(c.rec, r)
			})
			c.mu.Unlock()
		}
	}()
	t.Cleanup(c.stop)
	return c
}

// stop stops polling and closes the client, which leaves the group.
func (c *testConsumer) stop() {
	c.once.Do(func() {
		c.cancel()
		<-c.done
		c.cl.Close()
	})
}

func (c *testConsumer) records() []*kgo.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.rec)
}

func (c *testConsumer) seen(v string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got[v] > 0
}

// assignment describes a group: its state and the partitions of topic
// each member holds, by member id.
func assignment(t *testing.T, adm *kadm.Client, groupID, topic string) (string, map[string][]int32) {
	t.Helper()
	ds, err := adm.DescribeGroups(ctxT(t), groupID)
	if err != nil {
		t.Fatalf("describe %s: %v", groupID, err)
	}
	d := ds[groupID]
	if d.Err != nil {
		t.Fatalf("describe %s: %v", groupID, d.Err)
	}
	out := map[string][]int32{}
	for _, m := range d.Members {
		out[m.MemberID] = nil
		if ca, ok := m.Assigned.AsConsumer(); ok {
			for _, at := range ca.Topics {
				if at.Topic == topic {
					ps := slices.Clone(at.Partitions)
					slices.Sort(ps)
					out[m.MemberID] = ps
				}
			}
		}
	}
	return d.State, out
}

// Two consumers split a 4-partition topic, one leaves and the other takes
// over everything, with each of franz-go's balancers (the assignor runs in
// the client; the broker relays it).
func TestConsumerGroupSplitAndTakeOver(t *testing.T) {
	t.Parallel()
	for _, bal := range []kgo.GroupBalancer{kgo.RangeBalancer(), kgo.RoundRobinBalancer(), kgo.StickyBalancer(), kgo.CooperativeStickyBalancer()} {
		t.Run(bal.ProtocolName(), func(t *testing.T) {
			t.Parallel()
			b := startBroker(t, groupOpts()...)
			ctx := ctxT(t)
			topic, groupID := "split", "split-"+bal.ProtocolName()
			adm := kadm.NewClient(newClient(t, b))
			groupCreateTopic(t, adm, topic, 4)
			prod := newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
			first := groupProduce(t, prod, topic, "first", 40, 4)

			c1 := startConsumer(t, b, groupConsumerOpts(groupID, topic, kgo.Balancers(bal), kgo.ClientID("c1"))...)
			c2 := startConsumer(t, b, groupConsumerOpts(groupID, topic, kgo.Balancers(bal), kgo.ClientID("c2"))...)
			waitUntil(t, ctx, "two members with two partitions each", func() (bool, string) {
				state, as := assignment(t, adm, groupID, topic)
				var all []int32
				for _, ps := range as {
					if len(ps) != 2 {
						return false, fmt.Sprint(state, as)
					}
					all = append(all, ps...)
				}
				slices.Sort(all)
				return state == "Stable" && len(as) == 2 && slices.Equal(all, []int32{0, 1, 2, 3}), fmt.Sprint(state, as)
			})
			waitUntil(t, ctx, "every record consumed", func() (bool, string) {
				for _, v := range first {
					if !c1.seen(v) && !c2.seen(v) {
						return false, "missing " + v
					}
				}
				return true, ""
			})

			c1.stop() // leaves the group
			waitUntil(t, ctx, "the remaining member holding all four partitions", func() (bool, string) {
				state, as := assignment(t, adm, groupID, topic)
				for _, ps := range as {
					return state == "Stable" && len(as) == 1 && slices.Equal(ps, []int32{0, 1, 2, 3}), fmt.Sprint(state, as)
				}
				return false, fmt.Sprint(state, as)
			})
			second := groupProduce(t, prod, topic, "second", 40, 4)
			waitUntil(t, ctx, "the survivor consuming every partition", func() (bool, string) {
				for _, v := range second {
					if !c2.seen(v) {
						return false, "missing " + v
					}
				}
				return true, ""
			})
		})
	}
}

// Manual commits (CommitRecords, CommitOffsetsSync) and admin commits with
// metadata are what FetchOffsets returns, and all of it survives a restart
// of the broker on the same data directory; a consumer of the group then
// resumes from the committed offsets.
func TestCommittedOffsetsSurviveRestart(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	dir := t.TempDir()
	open := func() *Broker {
		b, err := New(append([]Opt{ListenAddr("127.0.0.1:0"), DataDir(dir)}, groupOpts()...)...)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := open()
	const topic, groupID, adminGroup = "commits", "committer", "admin-committed"
	cl := newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	groupCreateTopic(t, adm, topic, 2)
	groupProduce(t, cl, topic, "v", 20, 2) // offsets 0..9 in each partition

	c := startConsumer(t, b, groupConsumerOpts(groupID, topic, kgo.DisableAutoCommit())...)
	waitUntil(t, ctx, "20 records", func() (bool, string) {
		n := len(c.records())
		return n == 20, fmt.Sprint(n)
	})
	var p0 []*kgo.Record
	for _, r := range c.records() {
		if r.Partition == 0 {
			p0 = append(p0, r)
		}
	}
	if err := c.cl.CommitRecords(ctx, p0...); err != nil { // partition 0: offset 10
		t.Fatal(err)
	}
	var commitErr error
	c.cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{topic: {1: {Epoch: -1, Offset: 4}}},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			commitErr = err
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					commitErr = errors.Join(commitErr, kerr.ErrorForCode(p.ErrorCode))
				}
			}
		})
	if commitErr != nil {
		t.Fatal(commitErr)
	}
	c.stop()

	admin := kadm.Offsets{}
	admin.Add(kadm.Offset{Topic: topic, Partition: 0, At: 3, LeaderEpoch: -1, Metadata: "checkpoint 3"})
	admin.Add(kadm.Offset{Topic: topic, Partition: 1, At: 7, LeaderEpoch: -1, Metadata: `{"job":"nightly"}`})
	if err := adm.CommitAllOffsets(ctx, adminGroup, admin); err != nil {
		t.Fatal(err)
	}

	check := func(adm *kadm.Client, when string) {
		t.Helper()
		got, err := adm.FetchOffsets(ctx, groupID)
		if err == nil {
			err = got.Error()
		}
		if err != nil {
			t.Fatalf("%s: fetch offsets: %v", when, err)
		}
		if o, _ := got.Lookup(topic, 0); o.At != 10 {
			t.Errorf("%s: %s/0 committed at %d, want 10", when, groupID, o.At)
		}
		if o, _ := got.Lookup(topic, 1); o.At != 4 {
			t.Errorf("%s: %s/1 committed at %d, want 4", when, groupID, o.At)
		}
		got, err = adm.FetchOffsets(ctx, adminGroup)
		if err == nil {
			err = got.Error()
		}
		if err != nil {
			t.Fatalf("%s: fetch offsets: %v", when, err)
		}
		admin.Each(func(w kadm.Offset) {
			if o, _ := got.Lookup(w.Topic, w.Partition); o.At != w.At || o.Metadata != w.Metadata {
				t.Errorf("%s: %s %s/%d = %d %q, want %d %q", when, adminGroup, w.Topic, w.Partition, o.At, o.Metadata, w.At, w.Metadata)
			}
		})
	}
	check(adm, "before the restart")

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = open()
	t.Cleanup(func() { b.Close() })
	cl = newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm = kadm.NewClient(cl)
	check(adm, "after the restart")
	ds, err := adm.DescribeGroups(ctx, groupID)
	if err != nil || ds[groupID].State != "Empty" || ds[groupID].ProtocolType != "consumer" {
		t.Fatalf("describe after restart: %+v %v", ds[groupID], err)
	}

	// The group resumes where it committed: partition 0 at 10 (one new
	// record), partition 1 at 4.
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	c = startConsumer(t, b, groupConsumerOpts(groupID, topic, kgo.DisableAutoCommit())...)
	waitUntil(t, ctx, "7 records", func() (bool, string) {
		n := len(c.records())
		return n >= 7, fmt.Sprint(n)
	})
	var got []string
	for _, r := range c.records() {
		got = append(got, fmt.Sprintf("%d/%d", r.Partition, r.Offset))
	}
	sort.Strings(got)
	if want := []string{"0/10", "1/4", "1/5", "1/6", "1/7", "1/8", "1/9"}; !slices.Equal(got, want) {
		t.Fatalf("resumed at %v, want %v", got, want)
	}
}

// DescribeGroups, ListGroups, DeleteGroups and DeleteOffsets through kadm,
// for a group with a member and after it left.
func TestGroupAdmin(t *testing.T) {
	t.Parallel()
	b := startBroker(t, groupOpts()...)
	ctx := ctxT(t)
	const topic, groupID = "admin-groups", "admin-g"
	cl := newClient(t, b)
	adm := kadm.NewClient(cl)
	groupCreateTopic(t, adm, topic, 2)
	c := startConsumer(t, b, groupConsumerOpts(groupID, topic, kgo.ClientID("admin-client"))...)
	waitUntil(t, ctx, "a Stable group", func() (bool, string) {
		state, as := assignment(t, adm, groupID, topic)
		return state == "Stable" && len(as) == 1, state
	})

	ds, err := adm.DescribeGroups(ctx, groupID, "no-such-group")
	if err != nil {
		t.Fatal(err)
	}
	d := ds[groupID]
	if d.ProtocolType != "consumer" || d.Protocol != "cooperative-sticky" || len(d.Members) != 1 ||
		d.Members[0].ClientID != "admin-client" || d.Members[0].ClientHost != "/127.0.0.1" {
		t.Fatalf("describe: %+v", d)
	}
	if meta, ok := d.Members[0].Join.AsConsumer(); !ok || !slices.Equal(meta.Topics, []string{topic}) {
		t.Fatalf("member subscription: %+v", d.Members[0].Join)
	}
	if ds["no-such-group"].State != "Dead" || ds["no-such-group"].Err != nil {
		t.Fatalf("describe of a missing group: %+v", ds["no-such-group"])
	}
	listed := func(states ...string) []string {
		ls, err := adm.ListGroups(ctx, states...)
		if err != nil {
			t.Fatal(err)
		}
		return ls.Groups()
	}
	if got := listed(); !slices.Equal(got, []string{groupID}) {
		t.Fatalf("list: %v", got)
	}
	if got := listed("Empty"); len(got) != 0 {
		t.Fatalf("list Empty: %v", got)
	}

	del, err := adm.DeleteGroups(ctx, groupID)
	if err != nil || !errors.Is(del[groupID].Err, kerr.NonEmptyGroup) {
		t.Fatalf("delete a group with a member: %v %v", del[groupID].Err, err)
	}
	// An admin commit (generation -1) is refused while there is a member.
	off := kadm.Offsets{}
	off.Add(kadm.Offset{Topic: topic, Partition: 0, At: 1, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctx, groupID, off); !errors.Is(err, kerr.UnknownMemberID) {
		t.Fatalf("admin commit to an active group: %v", err)
	}
	dels, err := adm.DeleteOffsets(ctx, groupID, kadm.TopicsSet{topic: {0: {}}, "no-such-topic": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := dels[topic][0]; !errors.Is(err, kerr.GroupSubscribedToTopic) {
		t.Fatalf("delete offsets of a subscribed topic: %v", err)
	}
	if err := dels["no-such-topic"][0]; !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("delete offsets of a missing topic: %v", err)
	}

	c.stop()
	waitUntil(t, ctx, "the group to be Empty", func() (bool, string) {
		got := listed("Empty")
		return slices.Equal(got, []string{groupID}), fmt.Sprint(got)
	})
	if err := adm.CommitAllOffsets(ctx, groupID, off); err != nil {
		t.Fatalf("admin commit to an empty group: %v", err)
	}
	dels, err = adm.DeleteOffsets(ctx, groupID, kadm.TopicsSet{topic: {0: {}}})
	if err != nil || dels.Error() != nil {
		t.Fatalf("delete offsets of an empty group: %v %v", err, dels.Error())
	}
	fetched, err := adm.FetchOffsets(ctx, groupID)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := fetched.Lookup(topic, 0); ok && o.At >= 0 {
		t.Fatalf("offset still there after DeleteOffsets: %+v", o)
	}
	del, err = adm.DeleteGroups(ctx, groupID)
	if err != nil || del[groupID].Err != nil {
		t.Fatalf("delete an empty group: %v %v", del[groupID].Err, err)
	}
	if got := listed(); len(got) != 0 {
		t.Fatalf("list after delete: %v", got)
	}
	del, err = adm.DeleteGroups(ctx, groupID)
	if err != nil || !errors.Is(del[groupID].Err, kerr.GroupIDNotFound) {
		t.Fatalf("delete twice: %v %v", del[groupID].Err, err)
	}
}

// __consumer_offsets is compacted, listed as internal, and closed to
// producers.
func TestOffsetsTopicIsInternal(t *testing.T) {
	t.Parallel()
	b := startBroker(t, append(groupOpts(), OffsetsTopicPartitions(3))...)
	ctx := ctxT(t)
	cl := newClient(t, b)
	adm := kadm.NewClient(cl)
	groupCreateTopic(t, adm, "plain", 1)
	off := kadm.Offsets{}
	off.Add(kadm.Offset{Topic: "plain", Partition: 0, At: 1, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctx, "g", off); err != nil {
		t.Fatal(err)
	}
	md, err := adm.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := md.Topics[group.TopicName]
	if !ok || !d.IsInternal || len(d.Partitions) != 3 || md.Topics["plain"].IsInternal {
		t.Fatalf("metadata: %+v", md.Topics)
	}
	desc, err := b.Store().Topic(group.TopicName)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := desc.Config("cleanup.policy"); c.Value != "compact" {
		t.Fatalf("cleanup.policy = %q", c.Value)
	}
	err = cl.ProduceSync(ctx, &kgo.Record{Topic: group.TopicName, Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.InvalidTopicException) {
		t.Fatalf("produce to %s: %v", group.TopicName, err)
	}
}

// group.min/max.session.timeout.ms bound the session a member may ask for.
func TestGroupSessionTimeoutBounds(t *testing.T) {
	t.Parallel()
	b := startBroker(t, GroupMinSessionTimeout(200*time.Millisecond), GroupMaxSessionTimeout(time.Second))
	ctx := ctxT(t)
	cl := newClient(t, b)
	for _, tc := range []struct {
		session int32
		want    *kerr.Error
	}{{100, kerr.InvalidSessionTimeout}, {2000, kerr.InvalidSessionTimeout}, {500, kerr.MemberIDRequired}} {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.ProtocolType, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = "bounds", "consumer", tc.session, 1000
		req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{}}}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if got := kerr.ErrorForCode(resp.ErrorCode); !errors.Is(got, tc.want) {
			t.Errorf("session %dms: %v, want %v", tc.session, got, tc.want)
		}
	}
	if _, err := New(ListenAddr("127.0.0.1:0"), DataDir(t.TempDir()), GroupMinSessionTimeout(time.Second), GroupMaxSessionTimeout(time.Millisecond), OffsetsTopicPartitions(51)); err == nil {
		t.Fatal("New accepted max < min session timeout and 51 offsets partitions")
	}
}

// rawConn speaks the wire protocol to the broker directly, at exactly the
// versions a test asks for.
type rawConn struct {
	t    *testing.T
	nc   net.Conn
	corr int32
}

func dialRaw(t *testing.T, b *Broker) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc}
}

// send writes req at its version.
func (c *rawConn) send(req kmsg.Request) {
	c.t.Helper()
	c.corr++
	c.nc.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.nc.Write(encodeRequest(req, c.corr, "raw")); err != nil {
		c.t.Fatal(err)
	}
}

// recv reads the answer to the last request sent, req.
func (c *rawConn) recv(req kmsg.Request) kmsg.Response {
	c.t.Helper()
	var size [4]byte
	_, err := io.ReadFull(c.nc, size[:])
	frame := make([]byte, binary.BigEndian.Uint32(size[:]))
	if err == nil {
		_, err = io.ReadFull(c.nc, frame)
	}
	if err != nil {
		c.t.Fatalf("%s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	rd := kbin.Reader{Src: frame}
	if corr := rd.Int32(); corr != c.corr {
		c.t.Fatalf("correlation id %d, want %d", corr, c.corr)
	}
	resp := req.ResponseKind()
	if resp.IsFlexible() {
		skipTags(&rd)
	}
	if err := resp.ReadFrom(rd.Src); err != nil {
		c.t.Fatalf("%s v%d response: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return resp
}

func (c *rawConn) do(req kmsg.Request) kmsg.Response {
	c.t.Helper()
	c.send(req)
	return c.recv(req)
}

func codeIs(code int16, want *kerr.Error) bool {
	if want == nil {
		return code == 0
	}
	return code == want.Code
}

// Every version of every group API, on the wire: each request decodes and
// each answer encodes at the version asked, with the fields that version
// has.
func TestGroupAPIsEveryVersion(t *testing.T) {
	t.Parallel()
	b := startBroker(t, groupOpts()...)
	adm := kadm.NewClient(newClient(t, b))
	groupCreateTopic(t, adm, "versions", 1)
	host, port := b.hostPort()

	t.Run("FindCoordinator", func(t *testing.T) {
		c := dialRaw(t, b)
		for v := int16(0); v <= 4; v++ {
			req := kmsg.NewPtrFindCoordinatorRequest()
			req.SetVersion(v)
			req.CoordinatorKey, req.CoordinatorKeys = "g", []string{"g", "txn"}
			if v >= 1 {
				req.CoordinatorType = 1
			}
			resp := c.do(req).(*kmsg.FindCoordinatorResponse)
			if v >= 4 {
				if len(resp.Coordinators) != 2 || resp.Coordinators[1].Key != "txn" || resp.Coordinators[1].Host != host || resp.Coordinators[1].Port != port {
					t.Errorf("v%d: %+v", v, resp.Coordinators)
				}
			} else if resp.ErrorCode != 0 || resp.NodeID != b.store.NodeID() || resp.Host != host || resp.Port != port {
				t.Errorf("v%d: %+v", v, resp)
			}
			if v >= 1 {
				req.CoordinatorType = 2
				resp := c.do(req).(*kmsg.FindCoordinatorResponse)
				code := resp.ErrorCode
				if v >= 4 {
					code = resp.Coordinators[0].ErrorCode
				}
				if !codeIs(code, kerr.InvalidRequest) {
					t.Errorf("v%d key type 2: code %d", v, code)
				}
			}
		}
	})

	t.Run("JoinSyncHeartbeatLeave", func(t *testing.T) {
		c := dialRaw(t, b)
		for v := int16(0); v <= 9; v++ {
			groupID := fmt.Sprint("join-v", v)
			join := kmsg.NewPtrJoinGroupRequest()
			join.SetVersion(v)
			join.Group, join.ProtocolType, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = groupID, "consumer", 10000, 10000
			join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte("meta")}}
			if v >= 5 {
				inst := "instance"
				join.InstanceID = &inst
			}
			jr := c.do(join).(*kmsg.JoinGroupResponse)
			if v >= 4 && v < 5 {
				if !codeIs(jr.ErrorCode, kerr.MemberIDRequired) || jr.MemberID == "" {
					t.Fatalf("join v%d: %+v", v, jr)
				}
				join.MemberID = jr.MemberID
				jr = c.do(join).(*kmsg.JoinGroupResponse)
			}
			if jr.ErrorCode != 0 || jr.Generation != 1 || jr.LeaderID != jr.MemberID || len(jr.Members) != 1 ||
				string(jr.Members[0].ProtocolMetadata) != "meta" || jr.Protocol == nil || *jr.Protocol != "range" {
				t.Fatalf("join v%d: %+v", v, jr)
			}
			if v >= 7 && (jr.ProtocolType == nil || *jr.ProtocolType != "consumer") {
				t.Errorf("join v%d: protocol type %v", v, jr.ProtocolType)
			}
			if v >= 5 && (jr.Members[0].InstanceID == nil || *jr.Members[0].InstanceID != "instance") {
				t.Errorf("join v%d: instance id %v", v, jr.Members[0].InstanceID)
			}
			member := jr.MemberID

			sync := kmsg.NewPtrSyncGroupRequest()
			sync.SetVersion(min(v, 5))
			sync.Group, sync.MemberID, sync.Generation, sync.InstanceID = groupID, member, 1, join.InstanceID
			sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: member, MemberAssignment: []byte("assigned")}}
			sr := c.do(sync).(*kmsg.SyncGroupResponse)
			if sr.ErrorCode != 0 || string(sr.MemberAssignment) != "assigned" {
				t.Fatalf("sync v%d: %+v", sync.Version, sr)
			}
			if sync.Version >= 5 && (sr.Protocol == nil || *sr.Protocol != "range") {
				t.Errorf("sync v%d: protocol %v", sync.Version, sr.Protocol)
			}

			hb := kmsg.NewPtrHeartbeatRequest()
			hb.SetVersion(min(v, 4))
			hb.Group, hb.MemberID, hb.Generation, hb.InstanceID = groupID, member, 1, join.InstanceID
			if hr := c.do(hb).(*kmsg.HeartbeatResponse); hr.ErrorCode != 0 {
				t.Fatalf("heartbeat v%d: %v", hb.Version, kerr.ErrorForCode(hr.ErrorCode))
			}
			hb.Generation = 2
			if hr := c.do(hb).(*kmsg.HeartbeatResponse); !codeIs(hr.ErrorCode, kerr.IllegalGeneration) {
				t.Fatalf("heartbeat v%d, wrong generation: %v", hb.Version, kerr.ErrorForCode(hr.ErrorCode))
			}

			if v >= 1 { // v0 commits cannot name a member
				commit := kmsg.NewPtrOffsetCommitRequest()
				commit.SetVersion(min(v, 8))
				commit.Group, commit.MemberID, commit.Generation = groupID, member, 1
				if commit.Version >= 7 {
					commit.InstanceID = join.InstanceID
				}
				meta := "m"
				commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "versions", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 5, LeaderEpoch: -1, Metadata: &meta}}}}
				if cr := c.do(commit).(*kmsg.OffsetCommitResponse); cr.Topics[0].Partitions[0].ErrorCode != 0 {
					t.Fatalf("member commit v%d: %v", commit.Version, kerr.ErrorForCode(cr.Topics[0].Partitions[0].ErrorCode))
				}
			}

			leave := kmsg.NewPtrLeaveGroupRequest()
			leave.SetVersion(min(v, 5))
			leave.Group, leave.MemberID = groupID, member
			leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: member, InstanceID: join.InstanceID}}
			lr := c.do(leave).(*kmsg.LeaveGroupResponse)
			if lr.ErrorCode != 0 || (leave.Version >= 3 && (len(lr.Members) != 1 || lr.Members[0].ErrorCode != 0)) {
				t.Fatalf("leave v%d: %+v", leave.Version, lr)
			}
			lr = c.do(leave).(*kmsg.LeaveGroupResponse)
			code := lr.ErrorCode
			if leave.Version >= 3 {
				code = lr.Members[0].ErrorCode
			}
			if !codeIs(code, kerr.UnknownMemberID) {
				t.Fatalf("second leave v%d: %+v", leave.Version, lr)
			}
		}
	})

	t.Run("OffsetCommitFetch", func(t *testing.T) {
		c := dialRaw(t, b)
		for v := int16(0); v <= 8; v++ {
			groupID := fmt.Sprint("commit-v", v)
			commit := kmsg.NewPtrOffsetCommitRequest()
			commit.SetVersion(v)
			commit.Group = groupID
			meta := fmt.Sprint("meta-", v)
			commit.Topics = []kmsg.OffsetCommitRequestTopic{
				{Topic: "versions", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: int64(v) + 1, Timestamp: -1, LeaderEpoch: 3, Metadata: &meta}, {Partition: 1, Offset: 1}}},
				{Topic: "missing", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1}}},
			}
			cr := c.do(commit).(*kmsg.OffsetCommitResponse)
			if len(cr.Topics) != 2 || cr.Topics[0].Partitions[0].ErrorCode != 0 ||
				!codeIs(cr.Topics[0].Partitions[1].ErrorCode, kerr.UnknownTopicOrPartition) ||
				!codeIs(cr.Topics[1].Partitions[0].ErrorCode, kerr.UnknownTopicOrPartition) {
				t.Fatalf("commit v%d: %+v", v, cr)
			}
		}
		for v := int16(0); v <= 8; v++ {
			groupID := fmt.Sprint("commit-v", v)
			fetch := kmsg.NewPtrOffsetFetchRequest()
			fetch.SetVersion(v)
			topics := []kmsg.OffsetFetchRequestTopic{{Topic: "versions", Partitions: []int32{0, 7}}}
			var got []kmsg.OffsetFetchResponseTopicPartition
			if v >= 8 {
				fetch.Groups = []kmsg.OffsetFetchRequestGroup{{Group: groupID, Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "versions", Partitions: []int32{0, 7}}}}}
				fr := c.do(fetch).(*kmsg.OffsetFetchResponse)
				for _, p := range fr.Groups[0].Topics[0].Partitions {
					got = append(got, kmsg.OffsetFetchResponseTopicPartition{Partition: p.Partition, Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, Metadata: p.Metadata, ErrorCode: p.ErrorCode})
				}
			} else {
				fetch.Group, fetch.Topics = groupID, topics
				fr := c.do(fetch).(*kmsg.OffsetFetchResponse)
				if fr.ErrorCode != 0 {
					t.Fatalf("fetch v%d: %v", v, kerr.ErrorForCode(fr.ErrorCode))
				}
				got = fr.Topics[0].Partitions
			}
			wantEpoch := int32(-1)
			if v >= 6 && v >= 5 { // committed with v6+, fetched with v5+
				wantEpoch = 3
			}
			if len(got) != 2 || got[0].Offset != int64(v)+1 || *got[0].Metadata != fmt.Sprint("meta-", v) ||
				(v >= 5 && got[0].LeaderEpoch != wantEpoch) || got[1].Offset != -1 {
				t.Fatalf("fetch v%d: %+v", v, got)
			}
		}
		// Null topics (v2+): everything the group committed.
		fetch := kmsg.NewPtrOffsetFetchRequest()
		fetch.SetVersion(7)
		fetch.Group = "commit-v3"
		if fr := c.do(fetch).(*kmsg.OffsetFetchResponse); len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 || fr.Topics[0].Partitions[0].Offset != 4 {
			t.Fatalf("fetch all: %+v", fr.Topics)
		}
	})

	t.Run("DescribeListDelete", func(t *testing.T) {
		c := dialRaw(t, b)
		for v := int16(0); v <= 5; v++ {
			req := kmsg.NewPtrDescribeGroupsRequest()
			req.SetVersion(v)
			req.Groups = []string{"commit-v1", "nope"}
			req.IncludeAuthorizedOperations = true
			resp := c.do(req).(*kmsg.DescribeGroupsResponse)
			if len(resp.Groups) != 2 || resp.Groups[0].State != "Empty" || resp.Groups[1].State != "Dead" || resp.Groups[0].ErrorCode != 0 {
				t.Fatalf("describe v%d: %+v", v, resp.Groups)
			}
			if v >= 3 && resp.Groups[0].AuthorizedOperations != 1<<3|1<<6|1<<8 {
				t.Errorf("describe v%d: authorized operations %b", v, resp.Groups[0].AuthorizedOperations)
			}
		}
		for v := int16(0); v <= 4; v++ {
			req := kmsg.NewPtrListGroupsRequest()
			req.SetVersion(v)
			req.StatesFilter = []string{"empty"}
			resp := c.do(req).(*kmsg.ListGroupsResponse)
			if resp.ErrorCode != 0 || len(resp.Groups) < 9 {
				t.Fatalf("list v%d: %+v", v, resp)
			}
			if v >= 4 && resp.Groups[0].GroupState != "Empty" {
				t.Errorf("list v%d: state %q", v, resp.Groups[0].GroupState)
			}
		}
		od := kmsg.NewPtrOffsetDeleteRequest()
		od.Group = "commit-v0"
		od.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "versions", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}, {Partition: 9}}}}
		odr := c.do(od).(*kmsg.OffsetDeleteResponse)
		if odr.ErrorCode != 0 || odr.Topics[0].Partitions[0].ErrorCode != 0 || !codeIs(odr.Topics[0].Partitions[1].ErrorCode, kerr.UnknownTopicOrPartition) {
			t.Fatalf("offset delete: %+v", odr)
		}
		for v := int16(0); v <= 2; v++ {
			req := kmsg.NewPtrDeleteGroupsRequest()
			req.SetVersion(v)
			req.Groups = []string{fmt.Sprint("commit-v", v), "nope"}
			resp := c.do(req).(*kmsg.DeleteGroupsResponse)
			if resp.Groups[0].ErrorCode != 0 || !codeIs(resp.Groups[1].ErrorCode, kerr.GroupIDNotFound) {
				t.Fatalf("delete groups v%d: %+v", v, resp.Groups)
			}
		}
	})
}

// A client that disconnects while its JoinGroup waits leaves nothing
// behind: the join is answered when the rebalance ends, the connection's
// goroutine then exits, and the member that never syncs is dropped. Close
// answers a join still waiting.
func TestJoinWaitersAndDisconnects(t *testing.T) {
	t.Parallel()
	b := startBroker(t, groupOpts()...)
	ctx := ctxT(t)
	adm := kadm.NewClient(newClient(t, b))
	state := func(groupID string) string {
		ds, err := adm.DescribeGroups(ctx, groupID)
		if err != nil {
			t.Fatal(err)
		}
		return ds[groupID].State
	}
	join := func(groupID, member string, rebalance int32) *kmsg.JoinGroupRequest {
		r := kmsg.NewPtrJoinGroupRequest()
		r.SetVersion(3)
		r.Group, r.MemberID, r.ProtocolType = groupID, member, "consumer"
		r.SessionTimeoutMillis, r.RebalanceTimeoutMillis = 10000, rebalance
		r.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{}}}
		return r
	}
	stable := func(c *rawConn, groupID string, rebalance int32) *kmsg.JoinGroupResponse {
		jr := c.do(join(groupID, "", rebalance)).(*kmsg.JoinGroupResponse)
		sync := kmsg.NewPtrSyncGroupRequest()
		sync.Group, sync.MemberID, sync.Generation = groupID, jr.MemberID, jr.Generation
		if sr := c.do(sync).(*kmsg.SyncGroupResponse); sr.ErrorCode != 0 {
			t.Fatal(kerr.ErrorForCode(sr.ErrorCode))
		}
		return jr
	}
	conns := func() int {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.mu.conns)
	}

	a := dialRaw(t, b)
	ja := stable(a, "waiters", 1000)
	state("waiters") // the admin client's connections are up
	base := conns()

	// A second member joins and hangs up while it waits for a to rejoin.
	gone := dialRaw(t, b)
	gone.send(join("waiters", "", 1000))
	waitUntil(t, ctx, "a rebalance", func() (bool, string) {
		s := state("waiters")
		return s == "PreparingRebalance", s
	})
	gone.nc.Close()
	if jr := a.do(join("waiters", ja.MemberID, 1000)).(*kmsg.JoinGroupResponse); jr.Generation != 2 || len(jr.Members) != 2 {
		t.Fatalf("rejoin: %+v", jr)
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = "waiters", ja.MemberID, 2
	if sr := a.do(sync).(*kmsg.SyncGroupResponse); sr.ErrorCode != 0 {
		t.Fatal(kerr.ErrorForCode(sr.ErrorCode))
	}
	waitUntil(t, ctx, "the hung-up connection to go", func() (bool, string) {
		n := conns()
		return n == base, fmt.Sprintf("%d connections, want %d", n, base)
	})
	// The member that hung up never syncs: after the rebalance timeout it
	// is removed and the group rebalances.
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = "waiters", ja.MemberID, 2
	waitUntil(t, ctx, "a rebalance without the member that hung up", func() (bool, string) {
		hr := a.do(hb).(*kmsg.HeartbeatResponse)
		return hr.ErrorCode == kerr.RebalanceInProgress.Code, fmt.Sprint(kerr.ErrorForCode(hr.ErrorCode))
	})

	// A join still waiting when the broker closes gets
	// COORDINATOR_NOT_AVAILABLE, and Close returns.
	x := dialRaw(t, b)
	stable(x, "closing", 60000)
	waiter := dialRaw(t, b)
	waiter.send(join("closing", "", 60000))
	waitUntil(t, ctx, "the join to wait", func() (bool, string) {
		s := state("closing")
		return s == "PreparingRebalance", s
	})
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	if resp := waiter.recv(join("closing", "", 60000)).(*kmsg.JoinGroupResponse); !codeIs(resp.ErrorCode, kerr.CoordinatorNotAvailable) {
		t.Fatalf("join waiting at Close: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("Close did not return")
	}
}
