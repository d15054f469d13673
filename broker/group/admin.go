package group

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Administration: DescribeGroups, ListGroups, DeleteGroups.

// groupOperations is what DescribeGroups v3+ reports as the authorized
// operations on a group when asked: with no authorizer, all of them
// (READ, DELETE, DESCRIBE, as the bit field 1<<3 | 1<<6 | 1<<8).
const groupOperations = 1<<3 | 1<<6 | 1<<8

// describeGroups serves DescribeGroups. A group that does not exist is
// described as Dead with no error (GROUP_ID_NOT_FOUND only comes with v6,
// which is not served). Members carry their metadata and assignment only
// while the group is Stable, as in Kafka.
func (c *Core) describeGroups(id uint64, r *kmsg.DescribeGroupsRequest) {
	resp := r.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, name := range r.Groups {
		d := kmsg.NewDescribeGroupsResponseGroup()
		d.Group = name
		if r.IncludeAuthorizedOperations {
			d.AuthorizedOperations = groupOperations
		}
		g := c.groups[name]
		switch {
		case name == "":
			d.ErrorCode = kerr.InvalidGroupID.Code
		case c.loading:
			d.ErrorCode = kerr.CoordinatorLoadInProgress.Code
		case g == nil:
			d.State = Dead.String()
		default:
			d.State, d.ProtocolType = g.state.String(), g.protocolType
			if g.state == Stable {
				d.Protocol = g.protocol
			}
			for _, m := range g.ordered() {
				dm := kmsg.NewDescribeGroupsResponseGroupMember()
				dm.MemberID, dm.InstanceID, dm.ClientID, dm.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
				dm.ProtocolMetadata, dm.MemberAssignment = []byte{}, []byte{}
				if g.state == Stable {
					dm.ProtocolMetadata = m.metadataFor(g.protocol)
					dm.MemberAssignment = m.assignment
				}
				d.Members = append(d.Members, dm)
			}
		}
		resp.Groups = append(resp.Groups, d)
	}
	c.reply(id, resp)
}

// listGroups serves ListGroups, sorted by group id; v4 filters by state
// (case-insensitive; an unknown state name matches nothing).
func (c *Core) listGroups(id uint64, r *kmsg.ListGroupsRequest) {
	resp := r.ResponseKind().(*kmsg.ListGroupsResponse)
	if c.loading {
		resp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
		c.reply(id, resp)
		return
	}
	var want map[State]bool
	if len(r.StatesFilter) > 0 {
		want = map[State]bool{}
		for _, s := range r.StatesFilter {
			if st, ok := ParseState(s); ok {
				want[st] = true
			}
		}
	}
	for _, name := range sortedKeys(c.groups) {
		g := c.groups[name]
		if want != nil && !want[g.state] {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState = g.id, g.protocolType, g.state.String()
		lg.GroupType = "classic"
		resp.Groups = append(resp.Groups, lg)
	}
	c.reply(id, resp)
}

// deleteGroups serves DeleteGroups: only Empty groups (NON_EMPTY_GROUP
// otherwise). The group disappears at once; tombstones for its metadata
// and every offset it has (or is committing) are written, and the answer
// waits until they are durable.
func (c *Core) deleteGroups(id uint64, r *kmsg.DeleteGroupsRequest) {
	resp := r.ResponseKind().(*kmsg.DeleteGroupsResponse)
	resp.Groups = make([]kmsg.DeleteGroupsResponseGroup, len(r.Groups))
	waiting := 0
	finish := func() {
		if waiting == 0 {
			c.reply(id, resp)
		}
	}
	for i, name := range r.Groups {
		out := &resp.Groups[i]
		*out = kmsg.NewDeleteGroupsResponseGroup()
		out.Group = name
		g := c.groups[name]
		switch {
		case name == "":
			out.ErrorCode = kerr.InvalidGroupID.Code
		case c.loading:
			out.ErrorCode = kerr.CoordinatorLoadInProgress.Code
		case g == nil:
			out.ErrorCode = kerr.GroupIDNotFound.Code
		case g.state != Empty:
			out.ErrorCode = kerr.NonEmptyGroup.Code
		default:
			recs := []Record{{Key: groupKey(g.id)}}
			seen := map[topicPartition]bool{}
			for _, tp := range append(sortedPartitions(g.offsets), sortedPartitions(g.inflight)...) {
				if !seen[tp] {
					seen[tp] = true
					recs = append(recs, Record{Key: offsetKey(g.id, tp.topic, tp.partition)})
				}
			}
			c.dropGroup(g)
			c.log.Info("group deleted", "group", name)
			waiting++
			c.write(name, recs, func(err error) {
				if err != nil {
					c.log.Warn("group coordinator: writing the tombstones of a deleted group failed", "group", name, "err", err)
					out.ErrorCode = kerr.CoordinatorNotAvailable.Code
				}
				waiting--
				finish()
			})
		}
	}
	finish()
}

// dropGroup removes g from the coordinator. Its pending members (there
// are no members: only Empty groups are deleted) are forgotten; timers
// and write completions that still refer to g see it dead.
func (c *Core) dropGroup(g *group) {
	g.dead = true
	g.state = Dead
	if c.groups[g.id] == g {
		delete(c.groups, g.id)
	}
}
