package connecttest

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/runnel-io/runnel/connect"
)

// Journal is the list of calls made to the fakes sharing it, in order.
// Entries are "<who>.<Method>", with the task in parentheses for the
// per-task methods of a sink: "source.Commit", "state.Save",
// "out.Write(0)", "out.CloseTask(1)". The source also notes the callbacks
// it makes: "source.Assigned([0 1])", "source.Revoked([0])",
// "source.Lost([1])". A nil *Journal records nothing.
type Journal struct {
	mu      sync.Mutex
	entries []string
}

func (j *Journal) add(format string, args ...any) {
	if j == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, fmt.Sprintf(format, args...))
}

// Entries returns a copy of the entries so far.
func (j *Journal) Entries() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.entries)
}

// Only returns the entries that are one of names, in order.
func (j *Journal) Only(names ...string) []string {
	var out []string
	for _, e := range j.Entries() {
		if slices.Contains(names, e) {
			out = append(out, e)
		}
	}
	return out
}

// Index returns the index of the first entry equal to entry, or -1.
func (j *Journal) Index(entry string) int {
	return slices.Index(j.Entries(), entry)
}

// Count returns how many entries equal entry.
func (j *Journal) Count(entry string) int {
	n := 0
	for _, e := range j.Entries() {
		if e == entry {
			n++
		}
	}
	return n
}

// Reset forgets every entry.
func (j *Journal) Reset() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = nil
}

// String returns the entries, one a line.
func (j *Journal) String() string { return strings.Join(j.Entries(), "\n") }

// failures holds the errors to return on the nth call of a method.
type failures map[int]error

func (f *failures) set(n int, err error) {
	if *f == nil {
		*f = failures{}
	}
	(*f)[n] = err
}

func cloneCheckpoint(cp connect.Checkpoint) connect.Checkpoint {
	if cp == nil {
		return nil
	}
	out := make(connect.Checkpoint, len(cp))
	for id, pos := range cp {
		out[id] = pos.Clone()
	}
	return out
}
