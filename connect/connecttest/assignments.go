package connecttest

import (
	"context"
	"slices"
	"sync"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

// Assignments is a connect.Assignments for tests of a source on its own,
// without a runtime: Assigned returns Pos for task 0 (none when nil), or
// fails with Err, and records the tasks of every call.
type Assignments struct {
	Pos engine.Positions
	Err error

	mu    sync.Mutex
	calls [][]connect.TaskID
}

// Assigned records tasks and returns Pos for task 0, or Err.
func (a *Assignments) Assigned(_ context.Context, tasks []connect.TaskID) (map[connect.TaskID]engine.Positions, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, slices.Clone(tasks))
	if a.Err != nil {
		return nil, a.Err
	}
	if a.Pos == nil {
		return nil, nil
	}
	return map[connect.TaskID]engine.Positions{0: a.Pos.Clone()}, nil
}

func (a *Assignments) Revoked(context.Context, []connect.TaskID) {}
func (a *Assignments) Lost(context.Context, []connect.TaskID)    {}

// SetErr changes Err while a source may call Assigned.
func (a *Assignments) SetErr(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.Err = err
}

// Calls returns the tasks of each Assigned call, in order.
func (a *Assignments) Calls() [][]connect.TaskID {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.calls)
}
