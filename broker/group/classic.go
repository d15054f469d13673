package group

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The classic group protocol: JoinGroup, SyncGroup, Heartbeat, LeaveGroup
// and the rebalance they drive. The logic follows Kafka's GroupCoordinator
// (and its successor, the classic-group part of GroupMetadataManager)
// decision for decision; comments name the Kafka function where the
// correspondence helps.

// joinGroup serves JoinGroup (Kafka's handleJoinGroup).
func (c *Core) joinGroup(id uint64, cl Client, r *kmsg.JoinGroupRequest) {
	fail := func(code int16) {
		resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode, resp.MemberID = code, r.MemberID
		c.reply(id, resp)
	}
	switch {
	case r.Group == "":
		fail(kerr.InvalidGroupID.Code)
		return
	case c.loading:
		fail(kerr.CoordinatorLoadInProgress.Code)
		return
	}
	if st := session(r); st < c.opts.MinSessionTimeout || st > c.opts.MaxSessionTimeout {
		fail(kerr.InvalidSessionTimeout.Code)
		return
	}
	g := c.groups[r.Group]
	created := false
	if g == nil {
		if r.MemberID != "" {
			fail(kerr.UnknownMemberID.Code)
			return
		}
		g, created = c.newGroup(r.Group), true
	}
	w := &waiter{id: id, req: r}
	if r.MemberID == "" {
		c.joinNewMember(g, cl, r, w)
	} else {
		c.joinKnownMember(g, cl, r, w)
	}
	if g.state == PreparingRebalance {
		c.tryCompleteJoin(g)
	}
	if created && g.unused() {
		c.dropGroup(g)
	}
}

// joinNewMember: a JoinGroup without a member id (doNewMemberJoinGroup).
func (c *Core) joinNewMember(g *group, cl Client, r *kmsg.JoinGroupRequest, w *waiter) {
	if !g.supportsProtocols(r.ProtocolType, r.Protocols) {
		c.answerJoin(w, joinError(r, kerr.InconsistentGroupProtocol.Code, ""))
		return
	}
	prefix := cl.ID
	if r.InstanceID != nil {
		prefix = *r.InstanceID
	}
	newID := c.opts.MemberID(prefix)
	switch {
	case r.InstanceID != nil:
		if old, ok := g.static[*r.InstanceID]; ok && g.members[old] != nil {
			c.replaceStaticMember(g, g.members[old], newID, r, w)
			return
		}
		c.addMember(g, newID, cl, r, w)
	case r.Version >= 4:
		// KIP-394: hand out the id and wait for the member to come back
		// with it, so that a client that keeps timing out does not
		// fill the group with dead members.
		g.pending[newID] = &pending{timer: c.schedule(timerPending, g, newID, session(r))}
		c.answerJoin(w, joinError(r, kerr.MemberIDRequired.Code, newID))
	default:
		c.addMember(g, newID, cl, r, w)
	}
}

// joinKnownMember: a JoinGroup with a member id (doCurrentMemberJoinGroup).
func (c *Core) joinKnownMember(g *group, cl Client, r *kmsg.JoinGroupRequest, w *waiter) {
	if !g.supportsProtocols(r.ProtocolType, r.Protocols) {
		c.answerJoin(w, joinError(r, kerr.InconsistentGroupProtocol.Code, r.MemberID))
		return
	}
	if _, ok := g.pending[r.MemberID]; ok {
		if r.InstanceID != nil {
			// Static members never get MEMBER_ID_REQUIRED.
			c.answerJoin(w, joinError(r, kerr.UnknownMemberID.Code, r.MemberID))
			return
		}
		c.addMember(g, r.MemberID, cl, r, w)
		return
	}
	if code := g.validateMember(r.MemberID, r.InstanceID); code != 0 {
		c.answerJoin(w, joinError(r, code, r.MemberID))
		return
	}
	m := g.members[r.MemberID]
	switch g.state {
	case PreparingRebalance:
		c.updateMember(g, m, r, w)
		c.maybePrepareRebalance(g, "member rejoined")
	case CompletingRebalance:
		if m.matches(r.Protocols) {
			// It missed its JoinGroup answer: give it again.
			c.answerJoin(w, c.joinResult(g, r, m.id, g.leader, g.leader == m.id, false))
			return
		}
		c.updateMember(g, m, r, w)
		c.maybePrepareRebalance(g, "member changed its metadata")
	case Stable:
		if g.leader != m.id && m.matches(r.Protocols) {
			c.answerJoin(w, c.joinResult(g, r, m.id, g.leader, false, false))
			return
		}
		// The leader rejoins to trigger a rebalance (after a metadata
		// change it noticed), or the member changed its subscription.
		c.updateMember(g, m, r, w)
		c.maybePrepareRebalance(g, "leader rejoined or member changed its metadata")
	default:
		c.answerJoin(w, joinError(r, kerr.UnknownMemberID.Code, r.MemberID))
	}
}

func session(r *kmsg.JoinGroupRequest) time.Duration {
	return time.Duration(r.SessionTimeoutMillis) * time.Millisecond
}

// rebalanceTimeoutOf is the request's rebalance timeout; v0 has none and
// uses the session timeout, as Kafka does.
func rebalanceTimeoutOf(r *kmsg.JoinGroupRequest) time.Duration {
	if r.Version == 0 || r.RebalanceTimeoutMillis <= 0 {
		return session(r)
	}
	return time.Duration(r.RebalanceTimeoutMillis) * time.Millisecond
}

// addMember adds a member that waits in JoinGroup (addMemberAndRebalance).
func (c *Core) addMember(g *group, id string, cl Client, r *kmsg.JoinGroupRequest, w *waiter) {
	delete(g.pending, id)
	m := &member{
		id:               id,
		instanceID:       cloneString(r.InstanceID),
		clientID:         cl.ID,
		clientHost:       cl.Host,
		sessionTimeout:   session(r),
		rebalanceTimeout: rebalanceTimeoutOf(r),
		protocolType:     r.ProtocolType,
		protocols:        copyProtocols(r.Protocols),
		join:             w,
		isNew:            true,
	}
	if g.state == PreparingRebalance && g.generation == 0 {
		g.newMemberAdded = true
	}
	g.add(m)
	// A new member cannot heartbeat while it waits in JoinGroup; give it
	// Kafka's fixed new-member join timeout instead of its session.
	m.timer = c.schedule(timerSession, g, m.id, c.opts.NewMemberJoinTimeout)
	c.maybePrepareRebalance(g, "member "+id+" joined")
}

// updateMember takes a known member's new join: protocols, timeouts, and
// the request to answer at the end of the join phase.
func (c *Core) updateMember(g *group, m *member, r *kmsg.JoinGroupRequest, w *waiter) {
	g.setProtocols(m, copyProtocols(r.Protocols))
	m.sessionTimeout, m.rebalanceTimeout = session(r), rebalanceTimeoutOf(r)
	c.setJoinWaiter(g, m, w)
}

// setJoinWaiter makes w the JoinGroup m waits in. A JoinGroup already
// waiting (the client gave up on it and retried) is answered
// REBALANCE_IN_PROGRESS rather than left hanging.
func (c *Core) setJoinWaiter(g *group, m *member, w *waiter) {
	if m.join != nil {
		old := m.join.req.(*kmsg.JoinGroupRequest)
		c.answerJoin(m.join, joinError(old, kerr.RebalanceInProgress.Code, m.id))
		g.awaitingJoin--
	}
	m.join = w
	if w != nil {
		g.awaitingJoin++
	}
}

// replaceStaticMember: a static member joins without a member id while its
// group.instance.id is mapped (updateStaticMemberAndRebalance). The old
// member id is fenced: whatever it waits in gets FENCED_INSTANCE_ID, and
// later requests with it too. In a Stable group whose protocol would not
// change, the member takes its old assignment back without a rebalance.
func (c *Core) replaceStaticMember(g *group, m *member, newID string, r *kmsg.JoinGroupRequest, w *waiter) {
	oldID := m.id
	currentLeader := g.leader
	c.answerWaiters(g, m, kerr.FencedInstanceID.Code)
	g.rename(m, newID)
	c.heartbeatDeadline(g, m)
	oldProtocols := m.protocols
	oldSession, oldRebalance := m.sessionTimeout, m.rebalanceTimeout
	c.updateMember(g, m, r, w)

	switch g.state {
	case Stable:
		if g.selectProtocol() != g.protocol {
			c.maybePrepareRebalance(g, "static member "+newID+" changed the group's protocol")
			return
		}
		gen := g.generation
		c.storeGroup(g, nil, func(err error) {
			if g.dead || m.join != w || g.generation != gen || g.members[newID] != m {
				return // a rebalance took over and answers the join
			}
			if err != nil {
				c.log.Warn("group coordinator: persisting a rejoined static member failed; reverting", "group", g.id, "err", err)
				g.setProtocols(m, oldProtocols)
				m.sessionTimeout, m.rebalanceTimeout = oldSession, oldRebalance
				c.setJoinWaiterAnswered(g, m)
				g.rename(m, oldID)
				c.heartbeatDeadline(g, m)
				resp := c.joinResult(g, r, "", currentLeader, false, false)
				resp.ErrorCode = groupWriteErrorCode(err)
				c.answerJoin(w, resp)
				return
			}
			c.setJoinWaiterAnswered(g, m)
			if r.Version >= 9 {
				// KIP-814: the leader learns it leads but keeps
				// the assignment it has.
				isLeader := g.leader == newID
				c.answerJoin(w, c.joinResult(g, r, newID, g.leader, isLeader, isLeader))
				return
			}
			// Before v9, answer with the old leader id, so that a
			// rejoining leader does not run an assignment that a
			// Stable group would not hand out.
			c.answerJoin(w, c.joinResult(g, r, newID, currentLeader, false, false))
		})
	case CompletingRebalance:
		c.maybePrepareRebalance(g, "static member "+newID+" rejoined during the sync phase")
	}
}

// setJoinWaiterAnswered clears m's join waiter once it has been answered.
func (c *Core) setJoinWaiterAnswered(g *group, m *member) {
	if m.join != nil {
		m.join = nil
		g.awaitingJoin--
	}
}

// validateMember is Kafka's validateCurrentMember: a static member's
// instance id must map to its member id (FENCED_INSTANCE_ID when another
// member holds it), and the member must exist.
func (g *group) validateMember(memberID string, instanceID *string) int16 {
	if instanceID != nil {
		id, ok := g.static[*instanceID]
		switch {
		case !ok:
			return kerr.UnknownMemberID.Code
		case id != memberID:
			return kerr.FencedInstanceID.Code
		}
	}
	if g.members[memberID] == nil {
		return kerr.UnknownMemberID.Code
	}
	return 0
}

// maybePrepareRebalance starts a join phase unless one is running.
func (c *Core) maybePrepareRebalance(g *group, reason string) {
	switch g.state {
	case Stable, CompletingRebalance, Empty:
		c.prepareRebalance(g, reason)
	}
}

// prepareRebalance starts a join phase. Members waiting in SyncGroup are
// told REBALANCE_IN_PROGRESS and must join again. An Empty group first
// waits the initial rebalance delay (extended while new members keep
// arriving, up to the rebalance timeout) so that consumers started
// together land in one generation; otherwise the phase ends when every
// member has joined, or at the rebalance timeout.
func (c *Core) prepareRebalance(g *group, reason string) {
	if g.state == CompletingRebalance {
		c.resetAssignment(g, kerr.RebalanceInProgress.Code)
	}
	g.syncTimer = 0
	g.pendingSync = nil
	if g.state == Empty {
		g.initialJoin = true
		g.joinDelay = c.opts.initialDelay()
		g.joinRemaining = max(g.rebalanceTimeout()-g.joinDelay, 0)
		g.joinTimer = c.schedule(timerJoin, g, "", g.joinDelay)
	} else {
		g.initialJoin = false
		g.joinTimer = c.schedule(timerJoin, g, "", g.rebalanceTimeout())
	}
	c.log.Info("group preparing to rebalance", "group", g.id, "old_generation", g.generation, "reason", reason)
	c.transition(g, PreparingRebalance)
	c.tryCompleteJoin(g)
}

// tryCompleteJoin ends the join phase early when everyone has joined
// (never during the initial delay).
func (c *Core) tryCompleteJoin(g *group) {
	if g.state == PreparingRebalance && !g.initialJoin && g.allJoined() {
		c.completeJoin(g)
	}
}

// onJoinDeadline: the initial delay or the rebalance timeout is over.
func (c *Core) onJoinDeadline(g *group) {
	if g.state != PreparingRebalance {
		return
	}
	if g.initialJoin && g.newMemberAdded && g.joinRemaining > 0 {
		// InitialDelayedJoin: a member arrived during the delay; wait
		// once more, never past the rebalance timeout.
		g.newMemberAdded = false
		delay := min(c.opts.initialDelay(), g.joinRemaining)
		g.joinRemaining = max(g.joinRemaining-g.joinDelay, 0)
		g.joinDelay = delay
		g.joinTimer = c.schedule(timerJoin, g, "", delay)
		return
	}
	c.completeJoin(g)
}

// completeJoin ends the join phase (onCompleteJoin): dynamic members that
// did not rejoin are removed, a new generation starts, and every waiting
// JoinGroup is answered, the leader's with the members' metadata.
func (c *Core) completeJoin(g *group) {
	g.joinTimer = 0
	g.initialJoin = false
	for _, m := range g.ordered() {
		if m.join == nil && m.instanceID == nil {
			c.log.Info("member removed: did not rejoin in time", "group", g.id, "member", m.id)
			g.remove(m)
		}
	}
	if !c.electJoinedLeader(g) && len(g.members) > 0 {
		// Only static members that have not rejoined are left: wait
		// for them, or for their sessions to expire.
		g.joinTimer = c.schedule(timerJoin, g, "", g.rebalanceTimeout())
		return
	}
	g.generation++
	g.pendingSync = map[string]bool{}
	if len(g.members) == 0 {
		g.protocol = ""
		g.leader = ""
		g.computeSubscribed()
		c.transition(g, Empty)
		c.log.Info("group is empty", "group", g.id, "generation", g.generation)
		c.storeGroup(g, nil, func(err error) {
			if err != nil {
				c.log.Warn("group coordinator: persisting an empty group failed", "group", g.id, "err", err)
			}
		})
		return
	}
	g.protocol = g.selectProtocol()
	g.computeSubscribed()
	c.transition(g, CompletingRebalance)
	c.log.Info("group stabilized", "group", g.id, "generation", g.generation, "protocol", g.protocol, "members", len(g.members), "leader", g.leader)
	for _, m := range g.ordered() {
		g.pendingSync[m.id] = true
		if w := m.join; w != nil {
			c.setJoinWaiterAnswered(g, m)
			r := w.req.(*kmsg.JoinGroupRequest)
			c.answerJoin(w, c.joinResult(g, r, m.id, g.leader, g.leader == m.id, false))
		}
		c.heartbeatDeadline(g, m)
		m.isNew = false
	}
	g.syncTimer = c.schedule(timerSync, g, "", g.rebalanceTimeout())
}

// electJoinedLeader keeps the leader if it rejoined, or makes the first
// member that did the leader; false when none did.
func (c *Core) electJoinedLeader(g *group) bool {
	l := g.members[g.leader]
	if l == nil {
		return false
	}
	if l.join != nil {
		return true
	}
	for _, m := range g.ordered() {
		if m.join != nil {
			g.leader = m.id
			return true
		}
	}
	return false
}

// joinResult builds a successful JoinGroup answer. members: include the
// member list (for the leader).
func (c *Core) joinResult(g *group, r *kmsg.JoinGroupRequest, memberID, leader string, members, skip bool) *kmsg.JoinGroupResponse {
	resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.Generation = g.generation
	pt, p := g.protocolType, g.protocol
	resp.ProtocolType, resp.Protocol = &pt, &p
	resp.LeaderID, resp.MemberID, resp.SkipAssignment = leader, memberID, skip
	if members {
		for _, m := range g.ordered() {
			jm := kmsg.NewJoinGroupResponseMember()
			jm.MemberID, jm.InstanceID, jm.ProtocolMetadata = m.id, m.instanceID, m.metadataFor(g.protocol)
			resp.Members = append(resp.Members, jm)
		}
	}
	return resp
}

// joinError is a failed JoinGroup answer (Kafka's JoinGroupResult(memberId,
// error)): generation -1, no protocol.
func joinError(r *kmsg.JoinGroupRequest, code int16, memberID string) *kmsg.JoinGroupResponse {
	resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.ErrorCode, resp.MemberID = code, memberID
	return resp
}

func (c *Core) answerJoin(w *waiter, resp *kmsg.JoinGroupResponse) {
	c.reply(w.id, resp)
}

// answerWaiters answers whatever m waits in with code (a member fenced,
// removed, or the coordinator shutting down).
func (c *Core) answerWaiters(g *group, m *member, code int16) {
	if w := m.join; w != nil {
		c.setJoinWaiterAnswered(g, m)
		c.answerJoin(w, joinError(w.req.(*kmsg.JoinGroupRequest), code, m.id))
	}
	if w := m.sync; w != nil {
		m.sync = nil
		resp := w.req.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = code
		c.reply(w.id, resp)
	}
}

// syncGroup serves SyncGroup (handleSyncGroup).
func (c *Core) syncGroup(id uint64, r *kmsg.SyncGroupRequest) {
	fail := func(code int16) {
		resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = code
		c.reply(id, resp)
	}
	switch {
	case r.Group == "":
		fail(kerr.InvalidGroupID.Code)
		return
	case c.loading:
		// The rebalance state was lost; have the member rejoin
		// (Kafka: older clients do not expect LOAD_IN_PROGRESS here).
		fail(kerr.RebalanceInProgress.Code)
		return
	}
	g := c.groups[r.Group]
	if g == nil {
		fail(kerr.UnknownMemberID.Code)
		return
	}
	if code := g.validateMember(r.MemberID, r.InstanceID); code != 0 {
		fail(code)
		return
	}
	switch {
	case r.Generation != g.generation:
		fail(kerr.IllegalGeneration.Code)
		return
	case r.ProtocolType != nil && *r.ProtocolType != g.protocolType,
		r.Protocol != nil && *r.Protocol != g.protocol:
		fail(kerr.InconsistentGroupProtocol.Code)
		return
	}
	m := g.members[r.MemberID]
	switch g.state {
	case PreparingRebalance:
		fail(kerr.RebalanceInProgress.Code)
	case CompletingRebalance:
		if m.sync != nil {
			old := m.sync
			m.sync = nil
			resp := old.req.ResponseKind().(*kmsg.SyncGroupResponse)
			resp.ErrorCode = kerr.RebalanceInProgress.Code
			c.reply(old.id, resp)
		}
		m.sync = &waiter{id: id, req: r}
		c.removePendingSync(g, m.id)
		if g.leader == m.id {
			c.leaderSync(g, r)
		}
	case Stable:
		c.removePendingSync(g, m.id)
		c.reply(id, syncResult(r, g, m.assignment))
		c.heartbeatDeadline(g, m)
	default: // Empty
		fail(kerr.UnknownMemberID.Code)
	}
}

// leaderSync takes the leader's assignment: it is persisted with the group
// metadata, and once durable every member waiting in SyncGroup gets its
// part and the group is Stable. Members the leader left out get an empty
// assignment, as in Kafka.
func (c *Core) leaderSync(g *group, r *kmsg.SyncGroupRequest) {
	assignment := make(map[string][]byte, len(g.members))
	for _, m := range g.ordered() {
		assignment[m.id] = []byte{}
	}
	for _, a := range r.GroupAssignment {
		if _, ok := assignment[a.MemberID]; ok {
			assignment[a.MemberID] = append([]byte{}, a.MemberAssignment...)
		}
	}
	gen := g.generation
	c.storeGroup(g, assignment, func(err error) {
		if g.dead || g.state != CompletingRebalance || g.generation != gen {
			return // a new rebalance started meanwhile
		}
		if err != nil {
			c.log.Warn("group coordinator: persisting the assignment failed", "group", g.id, "generation", gen, "err", err)
			c.resetAssignment(g, groupWriteErrorCode(err))
			c.maybePrepareRebalance(g, "persisting the assignment failed")
			return
		}
		for _, m := range g.ordered() {
			m.assignment = assignment[m.id]
		}
		c.propagateAssignment(g, 0)
		c.transition(g, Stable)
	})
}

// resetAssignment clears the assignments and answers the SyncGroups
// waiting with code (resetAndPropagateAssignmentError).
func (c *Core) resetAssignment(g *group, code int16) {
	for _, m := range g.members {
		m.assignment = nil
	}
	c.propagateAssignment(g, code)
}

// propagateAssignment answers every waiting SyncGroup and restarts the
// member's session.
func (c *Core) propagateAssignment(g *group, code int16) {
	for _, m := range g.ordered() {
		w := m.sync
		if w == nil {
			continue
		}
		m.sync = nil
		r := w.req.(*kmsg.SyncGroupRequest)
		if code != 0 {
			resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
			resp.ErrorCode = code
			c.reply(w.id, resp)
		} else {
			c.reply(w.id, syncResult(r, g, m.assignment))
		}
		c.heartbeatDeadline(g, m)
	}
}

func syncResult(r *kmsg.SyncGroupRequest, g *group, assignment []byte) *kmsg.SyncGroupResponse {
	resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
	pt, p := g.protocolType, g.protocol
	resp.ProtocolType, resp.Protocol = &pt, &p
	resp.MemberAssignment = assignment
	if resp.MemberAssignment == nil {
		resp.MemberAssignment = []byte{}
	}
	return resp
}

// removePendingSync notes that member id sent SyncGroup; once all have,
// the sync deadline is off.
func (c *Core) removePendingSync(g *group, id string) {
	delete(g.pendingSync, id)
	if len(g.pendingSync) == 0 {
		g.syncTimer = 0
	}
}

// onSyncDeadline removes the members that never sent SyncGroup in this
// generation and rebalances (onExpirePendingSync).
func (c *Core) onSyncDeadline(g *group) {
	if g.state != CompletingRebalance && g.state != Stable || len(g.pendingSync) == 0 {
		return
	}
	for _, m := range g.ordered() {
		if g.pendingSync[m.id] {
			c.log.Info("member removed: no SyncGroup within the rebalance timeout", "group", g.id, "member", m.id)
			c.answerWaiters(g, m, kerr.UnknownMemberID.Code)
			g.remove(m)
		}
	}
	c.prepareRebalance(g, "members did not sync in time")
}

// heartbeat serves Heartbeat (handleHeartbeat).
func (c *Core) heartbeat(id uint64, r *kmsg.HeartbeatRequest) {
	resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
	defer c.reply(id, resp)
	switch {
	case r.Group == "":
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return
	case c.loading:
		return // Kafka answers NONE blindly while loading
	}
	g := c.groups[r.Group]
	if g == nil {
		resp.ErrorCode = kerr.UnknownMemberID.Code
		return
	}
	if code := g.validateMember(r.MemberID, r.InstanceID); code != 0 {
		resp.ErrorCode = code
		return
	}
	if r.Generation != g.generation {
		resp.ErrorCode = kerr.IllegalGeneration.Code
		return
	}
	m := g.members[r.MemberID]
	switch g.state {
	case Empty:
		resp.ErrorCode = kerr.UnknownMemberID.Code
	case PreparingRebalance:
		c.heartbeatDeadline(g, m)
		resp.ErrorCode = kerr.RebalanceInProgress.Code
	case CompletingRebalance, Stable:
		c.heartbeatDeadline(g, m)
	}
}

// heartbeatDeadline restarts m's session (completeAndScheduleNextHeartbeatExpiration).
func (c *Core) heartbeatDeadline(g *group, m *member) {
	m.timer = c.schedule(timerSession, g, m.id, m.sessionTimeout)
}

// onSessionExpired removes a member that missed its session deadline,
// unless it waits in JoinGroup or SyncGroup, which counts as alive (a new
// member's JoinGroup does not: its deadline was the new-member timeout).
func (c *Core) onSessionExpired(g *group, m *member) {
	if !m.isNew && (m.join != nil || m.sync != nil) {
		return
	}
	c.log.Info("member removed: session expired", "group", g.id, "member", m.id)
	c.removeMember(g, m, "session of "+m.id+" expired")
}

// onPendingExpired drops a MEMBER_ID_REQUIRED member that never came back.
func (c *Core) onPendingExpired(g *group, id string) {
	c.removePending(g, id)
}

// removePending forgets a MEMBER_ID_REQUIRED member; a group that was
// nothing but that goes too.
func (c *Core) removePending(g *group, id string) {
	delete(g.pending, id)
	switch {
	case g.state == PreparingRebalance:
		c.tryCompleteJoin(g)
	case g.state == Empty && g.unused():
		c.dropGroup(g)
	}
}

// removeMember removes m and moves the group on (removeMemberAndUpdateGroup).
// A JoinGroup it waits in gets UNKNOWN_MEMBER_ID, so a client still alive
// joins again.
func (c *Core) removeMember(g *group, m *member, reason string) {
	c.answerWaiters(g, m, kerr.UnknownMemberID.Code)
	g.remove(m)
	switch g.state {
	case Stable, CompletingRebalance:
		c.maybePrepareRebalance(g, reason)
	case PreparingRebalance:
		c.tryCompleteJoin(g)
	}
}

// leaveGroup serves LeaveGroup (handleLeaveGroup): v0-v2 name one member,
// v3+ a batch, each by member id or, to remove a static member as an
// administrator, by group.instance.id alone.
func (c *Core) leaveGroup(id uint64, r *kmsg.LeaveGroupRequest) {
	resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
	defer c.reply(id, resp)
	switch {
	case r.Group == "":
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return
	case c.loading:
		resp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
		return
	}
	leaving := r.Members
	if r.Version < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: r.MemberID}}
	}
	g := c.groups[r.Group]
	for _, lm := range leaving {
		out := kmsg.NewLeaveGroupResponseMember()
		out.MemberID, out.InstanceID = lm.MemberID, lm.InstanceID
		out.ErrorCode = c.leaveOne(g, lm)
		resp.Members = append(resp.Members, out)
	}
	if r.Version < 3 {
		resp.ErrorCode, resp.Members = resp.Members[0].ErrorCode, nil
	}
}

func (c *Core) leaveOne(g *group, lm kmsg.LeaveGroupRequestMember) int16 {
	if g == nil {
		return kerr.UnknownMemberID.Code
	}
	reason := "member left"
	if lm.Reason != nil {
		reason += ": " + *lm.Reason
	}
	switch {
	case lm.MemberID == "":
		if lm.InstanceID == nil {
			return kerr.UnknownMemberID.Code
		}
		id, ok := g.static[*lm.InstanceID]
		if !ok || g.members[id] == nil {
			return kerr.UnknownMemberID.Code
		}
		c.removeMember(g, g.members[id], reason)
	case g.pending[lm.MemberID] != nil:
		c.removePending(g, lm.MemberID)
	default:
		if code := g.validateMember(lm.MemberID, lm.InstanceID); code != 0 {
			return code
		}
		c.removeMember(g, g.members[lm.MemberID], reason)
	}
	return 0
}

// storeGroup writes the group's metadata (with assignment, or the
// members' own) and calls done when it is durable or failed.
func (c *Core) storeGroup(g *group, assignment map[string][]byte, done func(error)) {
	g.hasMetadata = true
	c.write(g.id, []Record{{Key: groupKey(g.id), Value: c.metadataValue(g, assignment)}}, done)
}

func cloneString(s *string) *string {
	if s == nil {
		return nil
	}
	v := *s
	return &v
}
