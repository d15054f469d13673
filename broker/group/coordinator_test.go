package group

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/broker/batch"
)

// memStorage is an in-memory Storage: each partition a list of batches
// with assigned offsets. Hooks let tests block or fail reads and appends.
type memStorage struct {
	parts int

	mu       sync.Mutex
	batches  map[int32][][]byte
	next     map[int32]int64
	appends  int
	readErrs int // fail this many reads

	readGate      chan struct{} // when set, Read waits for it to close
	appendGate    chan struct{} // when set, Append waits for it to close
	appendEntered chan struct{} // when set, Append signals here first
}

func newMemStorage(parts int) *memStorage {
	return &memStorage{parts: parts, batches: map[int32][][]byte{}, next: map[int32]int64{}}
}

func (s *memStorage) Partitions() (int, error) { return s.parts, nil }

func (s *memStorage) Append(p int32, b []byte) error {
	s.mu.Lock()
	entered, gate := s.appendEntered, s.appendGate
	s.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if gate != nil {
		<-gate
	}
	h, _, err := batch.Check(b, 0)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appends++
	cp := append([]byte(nil), b...)
	batch.SetBaseOffset(cp, s.next[p])
	s.next[p] += int64(h.LastOffsetDelta) + 1
	s.batches[p] = append(s.batches[p], cp)
	return nil
}

func (s *memStorage) Read(p int32, offset int64, maxBytes int) ([]byte, int64, error) {
	s.mu.Lock()
	gate := s.readGate
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readErrs > 0 {
		s.readErrs--
		return nil, 0, errors.New("memStorage: injected read error")
	}
	var out []byte
	for _, b := range s.batches[p] {
		h, _ := batch.ParseHeader(b)
		if h.LastOffset() >= offset && (len(out) == 0 || len(out)+len(b) <= maxBytes) {
			out = append(out, b...)
		}
	}
	return out, s.next[p], nil
}

func (s *memStorage) appendCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appends
}

var _ Storage = (*memStorage)(nil)

func newTestCoordinator(t *testing.T, st Storage) *Coordinator {
	t.Helper()
	c, err := New(st, &Options{InitialRebalanceDelay: NoInitialRebalanceDelay, MinSessionTimeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var testClient = Client{ID: "test", Host: "/127.0.0.1"}

func handle[R kmsg.Response](t *testing.T, ctx context.Context, c *Coordinator, req kmsg.Request) R {
	t.Helper()
	resp, err := c.Handle(ctx, testClient, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.(R)
}

func commitReq(group string, offsets map[int32]int64, meta string) *kmsg.OffsetCommitRequest {
	r := kmsg.NewPtrOffsetCommitRequest()
	r.SetVersion(8)
	r.Group = group
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = "t"
	for p, o := range offsets {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.Metadata = p, o, &meta
		rt.Partitions = append(rt.Partitions, rp)
	}
	r.Topics = []kmsg.OffsetCommitRequestTopic{rt}
	return r
}

func fetchReq(group string) *kmsg.OffsetFetchRequest {
	r := kmsg.NewPtrOffsetFetchRequest()
	r.SetVersion(8)
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	r.Groups = []kmsg.OffsetFetchRequestGroup{rg}
	return r
}

func joinReq(group, member string) *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.SetVersion(3) // no MEMBER_ID_REQUIRED round trip
	r.Group, r.MemberID, r.ProtocolType = group, member, "consumer"
	r.SessionTimeoutMillis, r.RebalanceTimeoutMillis = 30000, 60000
	r.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte("m")}}
	return r
}

// waitLoaded waits for the coordinator to finish loading.
func waitLoaded(t *testing.T, ctx context.Context, c *Coordinator) {
	t.Helper()
	for {
		resp := handle[*kmsg.ListGroupsResponse](t, ctx, c, kmsg.NewPtrListGroupsRequest())
		if resp.ErrorCode == 0 {
			return
		}
		if !errors.Is(kerr.ErrorForCode(resp.ErrorCode), kerr.CoordinatorLoadInProgress) {
			t.Fatalf("ListGroups: %v", kerr.ErrorForCode(resp.ErrorCode))
		}
		select {
		case <-ctx.Done():
			t.Fatal("coordinator never finished loading")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Until the log is read, group APIs answer as Kafka does while loading;
// then the offsets committed before are there.
func TestCoordinatorLoadsBeforeServing(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	st := newMemStorage(3)
	c := newTestCoordinator(t, st)
	waitLoaded(t, ctx, c)
	for i, g := range []string{"a", "b", "c", "d"} {
		resp := handle[*kmsg.OffsetCommitResponse](t, ctx, c, commitReq(g, map[int32]int64{0: int64(i), 1: 100}, "meta-"+g))
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("commit %s: %v", g, kerr.ErrorForCode(code))
		}
	}
	c.Close()

	gate := make(chan struct{})
	st.mu.Lock()
	st.readGate = gate
	st.mu.Unlock()
	c2 := newTestCoordinator(t, st)
	join := handle[*kmsg.JoinGroupResponse](t, ctx, c2, joinReq("a", ""))
	if !errors.Is(kerr.ErrorForCode(join.ErrorCode), kerr.CoordinatorLoadInProgress) {
		t.Fatalf("join while loading: %v", kerr.ErrorForCode(join.ErrorCode))
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID = "a", "x"
	if resp := handle[*kmsg.HeartbeatResponse](t, ctx, c2, hb); resp.ErrorCode != 0 {
		t.Fatalf("heartbeat while loading: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	fetch := handle[*kmsg.OffsetFetchResponse](t, ctx, c2, fetchReq("a"))
	if !errors.Is(kerr.ErrorForCode(fetch.Groups[0].ErrorCode), kerr.CoordinatorLoadInProgress) {
		t.Fatalf("fetch while loading: %+v", fetch.Groups[0])
	}
	close(gate)
	waitLoaded(t, ctx, c2)
	for i, g := range []string{"a", "b", "c", "d"} {
		resp := handle[*kmsg.OffsetFetchResponse](t, ctx, c2, fetchReq(g))
		got := map[int32]string{}
		for _, p := range resp.Groups[0].Topics[0].Partitions {
			got[p.Partition] = fmt.Sprintf("%d/%s", p.Offset, *p.Metadata)
		}
		want := map[int32]string{0: fmt.Sprintf("%d/meta-%s", i, g), 1: "100/meta-" + g}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("group %s after reload: %v, want %v", g, got, want)
		}
	}
}

// A read error while loading is retried; groups stay loading meanwhile.
func TestCoordinatorRetriesLoadErrors(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	st := newMemStorage(1)
	st.readErrs = 1
	c := newTestCoordinator(t, st)
	waitLoaded(t, ctx, c)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.readErrs != 0 {
		t.Fatal("the failing read was never made")
	}
}

// Commits queued while an append is in progress go to the log together:
// one batch, one fsync.
func TestCoordinatorCoalescesWrites(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	st := newMemStorage(1)
	c := newTestCoordinator(t, st)
	waitLoaded(t, ctx, c)

	gate, entered := make(chan struct{}), make(chan struct{}, 1)
	st.mu.Lock()
	st.appendGate, st.appendEntered = gate, entered
	st.mu.Unlock()

	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	commit := func(i int) {
		defer wg.Done()
		resp, err := c.Handle(ctx, testClient, commitReq(fmt.Sprint("g", i), map[int32]int64{0: int64(i)}, ""))
		if err == nil {
			err = kerr.ErrorForCode(resp.(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode)
		}
		errs <- err
	}
	wg.Add(1)
	go commit(0)
	<-entered // the writer is inside Append with the first commit
	st.mu.Lock()
	st.appendEntered = nil
	st.mu.Unlock()
	for i := 1; i < n; i++ {
		wg.Add(1)
		go commit(i)
	}
	w := c.writers[0] // set before the writer started: no race
	for {
		w.mu.Lock()
		queued := len(w.q)
		w.mu.Unlock()
		if queued == n-1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("only %d commits queued", queued)
		case <-time.After(time.Millisecond):
		}
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := st.appendCount(); got != 2 {
		t.Fatalf("%d commits took %d appends, want 2", n, got)
	}
}

// Close answers the requests waiting for a rebalance, and later requests
// get ErrClosed.
func TestCoordinatorCloseAnswersWaiters(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := newTestCoordinator(t, newMemStorage(1))
	waitLoaded(t, ctx, c)
	first := handle[*kmsg.JoinGroupResponse](t, ctx, c, joinReq("g", ""))
	if first.ErrorCode != 0 || first.Generation != 1 {
		t.Fatalf("first join: %+v", first)
	}
	// A second member: the join phase waits for the first to rejoin.
	waiting := make(chan *kmsg.JoinGroupResponse, 1)
	go func() {
		resp, err := c.Handle(ctx, testClient, joinReq("g", ""))
		if err != nil {
			t.Error(err)
		}
		waiting <- resp.(*kmsg.JoinGroupResponse)
	}()
	for {
		d := kmsg.NewPtrDescribeGroupsRequest()
		d.Groups = []string{"g"}
		if handle[*kmsg.DescribeGroupsResponse](t, ctx, c, d).Groups[0].State == PreparingRebalance.String() {
			break
		}
	}
	c.Close()
	select {
	case resp := <-waiting:
		if !errors.Is(kerr.ErrorForCode(resp.ErrorCode), kerr.CoordinatorNotAvailable) {
			t.Fatalf("waiting join after Close: %v", kerr.ErrorForCode(resp.ErrorCode))
		}
	case <-ctx.Done():
		t.Fatal("the waiting join was never answered")
	}
	if _, err := c.Handle(ctx, testClient, joinReq("g", "")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Handle after Close: %v", err)
	}
}

// The handler's context bounds its wait; the coordinator goes on.
func TestCoordinatorHandleContext(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := newTestCoordinator(t, newMemStorage(1))
	waitLoaded(t, ctx, c)
	handle[*kmsg.JoinGroupResponse](t, ctx, c, joinReq("g", ""))
	short, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := c.Handle(short, testClient, joinReq("g", ""))
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Handle with a cancelled context: %v", err)
	}
	if resp := handle[*kmsg.ListGroupsResponse](t, ctx, c, kmsg.NewPtrListGroupsRequest()); len(resp.Groups) != 1 {
		t.Fatalf("groups: %+v", resp.Groups)
	}
}
