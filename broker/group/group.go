package group

import (
	"bytes"
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// group is one classic group and its committed offsets.
type group struct {
	id    string
	state State
	dead  bool // deleted: no longer in Core.groups; late events ignore it

	protocolType string // set by the first member; kept while Empty
	protocol     string // selected at each generation; "" while Empty
	generation   int32
	leader       string // "" when there are no members
	stateTime    time.Time

	members   map[string]*member
	order     []string            // member ids in join order: deterministic iteration
	supported map[string]int      // protocol name -> members supporting it
	pending   map[string]*pending // member ids handed out with MEMBER_ID_REQUIRED
	static    map[string]string   // group.instance.id -> member id
	// pendingSync holds the members that got their JoinGroup answer
	// but have not sent SyncGroup yet.
	pendingSync  map[string]bool
	awaitingJoin int // members with a JoinGroup waiting

	// The join phase: joinTimer is the live deadline; initialJoin marks
	// the initial rebalance delay of a group that was Empty, during which
	// the phase never ends early; newMemberAdded and remaining extend it
	// (Kafka's InitialDelayedJoin).
	joinTimer      uint64
	initialJoin    bool
	newMemberAdded bool
	joinDelay      time.Duration
	joinRemaining  time.Duration
	syncTimer      uint64

	// subscribed holds the topics the members subscribe to, parsed from
	// the selected protocol's metadata of a "consumer" group; nil when not
	// a consumer group or not parsable (then every topic counts as
	// subscribed, the safe answer for OffsetDelete).
	subscribed map[string]bool

	offsets map[topicPartition]offset
	// inflight counts the offset commits of each partition whose write
	// has not completed; DeleteGroups writes tombstones for them too.
	inflight map[topicPartition]int
	// hasMetadata: a GroupMetadata record of this group is (or will be)
	// in the log; loading drops groups with neither it nor offsets.
	hasMetadata bool

	// txnPending holds the offsets of open transactions, by producer id
	// (txnoffsets.go); txnInflight counts their writes in progress.
	txnPending  map[int64]map[topicPartition]offset
	txnInflight int
}

type member struct {
	id         string
	instanceID *string // static membership (KIP-345)
	clientID   string
	clientHost string

	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocolType     string
	protocols        []protocol // in the member's order of preference
	assignment       []byte

	join  *waiter // a JoinGroup waiting for the join phase to end
	sync  *waiter // a SyncGroup waiting for the leader's assignment
	isNew bool    // has not completed a join yet
	timer uint64  // live session deadline
}

type protocol struct {
	name     string
	metadata []byte
}

// waiter is a request the Core answers later.
type waiter struct {
	id  uint64
	req kmsg.Request
}

type pending struct {
	timer uint64
}

type topicPartition struct {
	topic     string
	partition int32
}

type offset struct {
	offset      int64
	leaderEpoch int32
	metadata    string
	commitTime  int64 // ms
}

func (c *Core) newGroup(id string) *group {
	g := &group{
		id:        id,
		state:     Empty,
		stateTime: c.now,
		members:   map[string]*member{},
		supported: map[string]int{},
		pending:   map[string]*pending{},
		static:    map[string]string{},
		offsets:   map[topicPartition]offset{},
		inflight:  map[topicPartition]int{},
	}
	c.groups[id] = g
	return g
}

// unused reports whether g holds nothing worth keeping: a group created
// by a request that then failed is dropped again.
func (g *group) unused() bool {
	return len(g.members) == 0 && len(g.pending) == 0 && len(g.offsets) == 0 &&
		len(g.inflight) == 0 && !g.hasMetadata && len(g.txnPending) == 0 && g.txnInflight == 0
}

// ordered returns the members in join order.
func (g *group) ordered() []*member {
	out := make([]*member, 0, len(g.order))
	for _, id := range g.order {
		out = append(out, g.members[id])
	}
	return out
}

func (c *Core) transition(g *group, s State) {
	g.state = s
	g.stateTime = c.now
}

// add makes m a member. REQUIRES: m.protocolType matches the group (or the
// group is empty).
func (g *group) add(m *member) {
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	if g.leader == "" {
		g.leader = m.id
	}
	g.members[m.id] = m
	g.order = append(g.order, m.id)
	for _, p := range m.protocols {
		g.supported[p.name]++
	}
	if m.join != nil {
		g.awaitingJoin++
	}
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	delete(g.pending, m.id)
}

// remove drops member m, without answering its waiters or rebalancing.
func (g *group) remove(m *member) {
	if g.members[m.id] != m {
		return
	}
	delete(g.members, m.id)
	g.order = slices.DeleteFunc(g.order, func(id string) bool { return id == m.id })
	for _, p := range m.protocols {
		g.supported[p.name]--
		if g.supported[p.name] == 0 {
			delete(g.supported, p.name)
		}
	}
	if m.join != nil {
		g.awaitingJoin--
		m.join = nil
	}
	m.sync = nil
	m.timer = 0
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	delete(g.pendingSync, m.id)
	if g.leader == m.id {
		g.leader = ""
		if len(g.order) > 0 {
			g.leader = g.order[0]
		}
	}
}

// rename gives member m a new id (a static member rejoining), keeping its
// place, leadership and pending sync.
func (g *group) rename(m *member, id string) {
	old := m.id
	delete(g.members, old)
	m.id = id
	g.members[id] = m
	for i, x := range g.order {
		if x == old {
			g.order[i] = id
		}
	}
	if g.leader == old {
		g.leader = id
	}
	if g.pendingSync[old] {
		delete(g.pendingSync, old)
		g.pendingSync[id] = true
	}
	if m.instanceID != nil {
		g.static[*m.instanceID] = id
	}
}

// setProtocols replaces m's protocols, keeping the supported counts right.
func (g *group) setProtocols(m *member, ps []protocol) {
	for _, p := range m.protocols {
		g.supported[p.name]--
		if g.supported[p.name] == 0 {
			delete(g.supported, p.name)
		}
	}
	m.protocols = ps
	for _, p := range ps {
		g.supported[p.name]++
	}
}

// supportsProtocols is Kafka's check of a joining member's protocols: an
// empty group takes any non-empty type and list; otherwise the type must
// match and one of the protocols must be supported by every member.
func (g *group) supportsProtocols(protocolType string, ps []kmsg.JoinGroupRequestProtocol) bool {
	if g.state == Empty {
		return protocolType != "" && len(ps) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range ps {
		if g.supported[p.Name] == len(g.members) {
			return true
		}
	}
	return false
}

// selectProtocol picks the protocol of the next generation as Kafka does:
// among the protocols every member supports, each member votes for the
// first one in its own order, and the most votes win. Ties go to the
// candidate the leader prefers, so the choice is deterministic.
func (g *group) selectProtocol() string {
	votes := map[string]int{}
	for _, m := range g.ordered() {
		for _, p := range m.protocols {
			if g.supported[p.name] == len(g.members) {
				votes[p.name]++
				break
			}
		}
	}
	var pref []protocol
	if l := g.members[g.leader]; l != nil {
		pref = l.protocols
	} else if len(g.order) > 0 {
		pref = g.members[g.order[0]].protocols
	}
	best, bestVotes := "", -1
	for _, p := range pref {
		if v, ok := votes[p.name]; ok && v > bestVotes {
			best, bestVotes = p.name, v
		}
	}
	if best == "" && len(pref) > 0 {
		best = pref[0].name // unreachable while supportsProtocols holds
	}
	return best
}

// metadataFor is m's metadata for protocol name.
func (m *member) metadataFor(name string) []byte {
	for _, p := range m.protocols {
		if p.name == name {
			return p.metadata
		}
	}
	return nil
}

// matches reports whether ps are m's protocols, in the same order.
func (m *member) matches(ps []kmsg.JoinGroupRequestProtocol) bool {
	if len(ps) != len(m.protocols) {
		return false
	}
	for i, p := range ps {
		if p.Name != m.protocols[i].name || !bytes.Equal(p.Metadata, m.protocols[i].metadata) {
			return false
		}
	}
	return true
}

// copyProtocols copies a request's protocols: the request's bytes belong
// to the connection's read buffer.
func copyProtocols(ps []kmsg.JoinGroupRequestProtocol) []protocol {
	out := make([]protocol, len(ps))
	for i, p := range ps {
		out[i] = protocol{name: p.Name, metadata: bytes.Clone(p.Metadata)}
	}
	return out
}

// computeSubscribed parses the subscriptions of a consumer group.
func (g *group) computeSubscribed() {
	g.subscribed = nil
	if g.protocolType != "consumer" || g.protocol == "" {
		if len(g.members) == 0 {
			g.subscribed = map[string]bool{}
		}
		return
	}
	topics := map[string]bool{}
	for _, m := range g.ordered() {
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(m.metadataFor(g.protocol)); err != nil {
			return
		}
		for _, t := range meta.Topics {
			topics[t] = true
		}
	}
	g.subscribed = topics
}

// isSubscribed reports whether a member subscribes to topic (true when
// that cannot be known).
func (g *group) isSubscribed(topic string) bool {
	return g.subscribed == nil || g.subscribed[topic]
}

// metadataValue is the GroupMetadataValue of the group as it stands, with
// the given assignment (member id -> bytes) or the members' own.
func (c *Core) metadataValue(g *group, assignment map[string][]byte) []byte {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupValueVersion
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	if g.protocol != "" {
		p := g.protocol
		v.Protocol = &p
	}
	if g.leader != "" {
		l := g.leader
		v.Leader = &l
	}
	v.CurrentStateTimestamp = g.stateTime.UnixMilli()
	for _, m := range g.ordered() {
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID, vm.InstanceID, vm.ClientID, vm.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
		vm.RebalanceTimeoutMillis = int32(m.rebalanceTimeout / time.Millisecond)
		vm.SessionTimeoutMillis = int32(m.sessionTimeout / time.Millisecond)
		vm.Subscription = m.metadataFor(g.protocol)
		if assignment != nil {
			vm.Assignment = assignment[m.id]
		} else {
			vm.Assignment = m.assignment
		}
		if vm.Subscription == nil {
			vm.Subscription = []byte{}
		}
		if vm.Assignment == nil {
			vm.Assignment = []byte{}
		}
		v.Members = append(v.Members, vm)
	}
	return v.AppendTo(nil)
}

// restore replaces the group's state with a GroupMetadataValue read at
// load: Empty without members, Stable with them, as Kafka loads a group.
func (g *group) restore(v *kmsg.GroupMetadataValue) error {
	offsets, inflight := g.offsets, g.inflight
	*g = group{
		id:          g.id,
		members:     map[string]*member{},
		supported:   map[string]int{},
		pending:     map[string]*pending{},
		static:      map[string]string{},
		offsets:     offsets,
		inflight:    inflight,
		hasMetadata: true,
	}
	g.protocolType = v.ProtocolType
	g.generation = v.Generation
	if v.Protocol != nil {
		g.protocol = *v.Protocol
	}
	if v.CurrentStateTimestamp > 0 {
		g.stateTime = time.UnixMilli(v.CurrentStateTimestamp)
	}
	for _, vm := range v.Members {
		m := &member{
			id:               vm.MemberID,
			instanceID:       vm.InstanceID,
			clientID:         vm.ClientID,
			clientHost:       vm.ClientHost,
			sessionTimeout:   time.Duration(vm.SessionTimeoutMillis) * time.Millisecond,
			rebalanceTimeout: time.Duration(vm.RebalanceTimeoutMillis) * time.Millisecond,
			protocolType:     v.ProtocolType,
			protocols:        []protocol{{name: g.protocol, metadata: vm.Subscription}},
			assignment:       vm.Assignment,
		}
		if m.rebalanceTimeout <= 0 {
			m.rebalanceTimeout = m.sessionTimeout
		}
		if g.members[m.id] != nil {
			continue
		}
		g.add(m)
	}
	if v.Leader != nil && g.members[*v.Leader] != nil {
		g.leader = *v.Leader
	}
	if len(g.members) > 0 {
		g.state = Stable
	} else {
		g.state = Empty
		g.leader = ""
	}
	g.computeSubscribed()
	return nil
}

// forget applies a group metadata tombstone at load: the group keeps only
// its offsets.
func (g *group) forget() {
	offsets, inflight := g.offsets, g.inflight
	*g = group{
		id:        g.id,
		members:   map[string]*member{},
		supported: map[string]int{},
		pending:   map[string]*pending{},
		static:    map[string]string{},
		offsets:   offsets,
		inflight:  inflight,
	}
}

// rebalanceTimeout is the longest rebalance timeout of the members.
func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// allJoined: every member waits in JoinGroup and no MEMBER_ID_REQUIRED
// member is still expected.
func (g *group) allJoined() bool {
	return g.awaitingJoin == len(g.members) && len(g.pending) == 0
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

func sortedPartitions[V any](m map[topicPartition]V) []topicPartition {
	return slices.SortedFunc(maps.Keys(m), func(a, b topicPartition) int {
		if c := cmp.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return cmp.Compare(a.partition, b.partition)
	})
}
