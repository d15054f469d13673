package group

import "strings"

// State is the state of a classic group, as DescribeGroups and ListGroups
// name it. See the package doc for the transitions.
type State int8

// The states of a classic group.
const (
	// Empty: no members. Offsets may be committed with generation -1.
	Empty State = iota
	// PreparingRebalance: waiting for the members to (re)join.
	PreparingRebalance
	// CompletingRebalance: joins answered; waiting for the leader's
	// assignment in SyncGroup.
	CompletingRebalance
	// Stable: the assignment is handed out; members heartbeat.
	Stable
	// Dead: the group was deleted. Only DescribeGroups shows it, for a
	// group that does not exist.
	Dead
)

var stateNames = [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

// String is Kafka's name of the state ("PreparingRebalance").
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "Unknown"
}

// ParseState parses a state name, case-insensitively as Kafka does for the
// ListGroups filter.
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if strings.EqualFold(n, name) {
			return State(i), true
		}
	}
	return 0, false
}
