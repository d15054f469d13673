package connecttest

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/runnel-io/runnel/connect"
)

// State is a connect.StateStore in memory. Like the Kafka state store it
// has two slots per task, the parity of the snapshot's Seq, so it keeps
// the last two checkpoints of each task.
type State struct {
	journal *Journal

	mu      sync.Mutex
	slots   map[string]map[connect.TaskID]*[2]*connect.Snapshot // by stage
	saves   []map[connect.TaskID]connect.Snapshot
	saveN   int
	saveErr failures
	loadErr error
	loads   int
}

var _ connect.StateStore = (*State)(nil)

// NewState returns an empty store noting its calls in j (which may be
// nil).
func NewState(j *Journal) *State {
	return &State{journal: j, slots: map[string]map[connect.TaskID]*[2]*connect.Snapshot{}}
}

func cloneSnapshot(s connect.Snapshot) connect.Snapshot {
	return connect.Snapshot{Seq: s.Seq, Positions: s.Positions.Clone(), State: slices.Clone(s.State)}
}

// Put stores a snapshot as Save does, without counting or failing.
func (st *State) Put(stage string, task connect.TaskID, snap connect.Snapshot) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.putLocked(stage, task, snap)
}

// REQUIRES: st.mu
func (st *State) putLocked(stage string, task connect.TaskID, snap connect.Snapshot) {
	tasks := st.slots[stage]
	if tasks == nil {
		tasks = map[connect.TaskID]*[2]*connect.Snapshot{}
		st.slots[stage] = tasks
	}
	if tasks[task] == nil {
		tasks[task] = &[2]*connect.Snapshot{}
	}
	c := cloneSnapshot(snap)
	tasks[task][snap.Seq&1] = &c
}

// FailSave makes the nth call of Save (counting from 1) return err and
// store nothing.
func (st *State) FailSave(n int, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.saveErr.set(n, err)
}

// FailLoad makes Load return err.
func (st *State) FailLoad(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.loadErr = err
}

// Load implements connect.StateStore; snapshots come newest first.
func (st *State) Load(_ context.Context, stage string, tasks []connect.TaskID) (map[connect.TaskID][]connect.Snapshot, error) {
	st.journal.add("state.Load")
	st.mu.Lock()
	defer st.mu.Unlock()
	st.loads++
	if st.loadErr != nil {
		return nil, st.loadErr
	}
	out := map[connect.TaskID][]connect.Snapshot{}
	for _, id := range tasks {
		if s := st.snapshotsLocked(stage, id); len(s) > 0 {
			out[id] = s
		}
	}
	return out, nil
}

// Save implements connect.StateStore.
func (st *State) Save(_ context.Context, stage string, snaps map[connect.TaskID]connect.Snapshot) error {
	st.journal.add("state.Save")
	st.mu.Lock()
	defer st.mu.Unlock()
	st.saveN++
	if err := st.saveErr[st.saveN]; err != nil {
		return err
	}
	saved := make(map[connect.TaskID]connect.Snapshot, len(snaps))
	for id, s := range snaps {
		st.putLocked(stage, id, s)
		saved[id] = cloneSnapshot(s)
	}
	st.saves = append(st.saves, saved)
	return nil
}

// Snapshots returns the snapshots kept for a task of a stage, newest
// first.
func (st *State) Snapshots(stage string, task connect.TaskID) []connect.Snapshot {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.snapshotsLocked(stage, task)
}

// REQUIRES: st.mu
func (st *State) snapshotsLocked(stage string, task connect.TaskID) []connect.Snapshot {
	slots := st.slots[stage][task]
	if slots == nil {
		return nil
	}
	var out []connect.Snapshot
	for _, s := range slots {
		if s != nil {
			out = append(out, cloneSnapshot(*s))
		}
	}
	slices.SortFunc(out, func(a, b connect.Snapshot) int { return cmp.Compare(b.Seq, a.Seq) })
	return out
}

// Saves returns what the successful calls of Save stored, in order.
func (st *State) Saves() []map[connect.TaskID]connect.Snapshot {
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Clone(st.saves)
}

// Loads returns how many times Load was called.
func (st *State) Loads() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.loads
}
