package file

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

// taskFiles is what a Dir holds of one task.
type taskFiles struct {
	last       name     // the part file or marker with the highest seq
	lastMarker bool     // last is a marker
	found      bool     // there is a last: the task was committed
	markers    []string // the task's marker names, in _committed
	strays     []string // the task's in-progress file names, in Dir
}

// scanTask reads what dir holds of a task of a prefix.
func scanTask(dir, prefix string, task connect.TaskID) (taskFiles, error) {
	var tf taskFiles
	consider := func(n name, marker bool) {
		if n.prefix != prefix || n.task != task {
			return
		}
		if !tf.found || n.seq > tf.last.seq {
			tf.last, tf.lastMarker, tf.found = n, marker, true
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return tf, fmt.Errorf("file sink: %w", err)
	}
	for _, e := range entries {
		n, err := parseName(e.Name())
		if err != nil || n.prefix != prefix || n.task != task {
			continue
		}
		switch {
		case n.token == "":
			tf.strays = append(tf.strays, e.Name())
		case n.ext != "":
			consider(n, false)
		}
	}
	entries, err = os.ReadDir(filepath.Join(dir, committedDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return tf, fmt.Errorf("file sink: %w", err)
	}
	for _, e := range entries {
		n, err := parseName(e.Name())
		if err != nil || n.token == "" || n.ext != "" || n.prefix != prefix || n.task != task {
			continue
		}
		tf.markers = append(tf.markers, e.Name())
		consider(n, true)
	}
	return tf, nil
}

// ReadCommitted returns the committed part files of every task of the
// sink with prefix prefix writing to dir, as paths in seq order (the order
// they were committed in). A dir that does not exist holds none. It is
// safe to call while a sink writes to dir: in-progress files are not
// listed.
func ReadCommitted(dir, prefix string) (map[connect.TaskID][]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("file sink: %w", err)
	}
	parts := map[connect.TaskID][]name{}
	for _, e := range entries {
		n, err := parseName(e.Name())
		if err == nil && n.prefix == prefix && n.token != "" && n.ext != "" {
			parts[n.task] = append(parts[n.task], n)
		}
	}
	out := make(map[connect.TaskID][]string, len(parts))
	for task, ns := range parts {
		slices.SortFunc(ns, func(a, b name) int { return cmp.Compare(a.seq, b.seq) })
		for _, n := range ns {
			out[task] = append(out[task], filepath.Join(dir, n.part()))
		}
	}
	return out, nil
}

// LastCommit returns the seq and the positions of the last commit of a
// task of the sink with prefix prefix writing to dir: what OpenTask
// returns. A task never committed has seq 0 and nil positions; a task
// whose positions DeletePositions deleted, the seq of that commit and nil
// positions.
func LastCommit(dir, prefix string, task connect.TaskID) (seq uint64, pos engine.Positions, err error) {
	tf, err := scanTask(dir, prefix, task)
	if err != nil || !tf.found {
		return 0, nil, err
	}
	pos, err = decodeToken(dir, tf.last.token)
	if err != nil {
		return 0, nil, err
	}
	if len(pos) == 0 {
		pos = nil
	}
	return tf.last.seq, pos, nil
}

// tasksIn returns the tasks of the sink with prefix prefix that have a
// part file, a marker or an in-progress file in dir, sorted.
func tasksIn(dir, prefix string) ([]connect.TaskID, error) {
	var tasks []connect.TaskID
	for _, d := range []string{dir, filepath.Join(dir, committedDir)} {
		entries, err := os.ReadDir(d)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("file sink: %w", err)
		}
		for _, e := range entries {
			if n, err := parseName(e.Name()); err == nil && n.prefix == prefix && !slices.Contains(tasks, n.task) {
				tasks = append(tasks, n.task)
			}
		}
	}
	slices.Sort(tasks)
	return tasks, nil
}

// DecodePositions returns the positions in the name of a committed part
// file or marker of a sink writing to dir (the base of name is used),
// reading dir/_positions when the token is a hash.
func DecodePositions(dir, name string) (engine.Positions, error) {
	n, err := parseName(filepath.Base(name))
	if err != nil || n.token == "" {
		return nil, fmt.Errorf("file sink: %q: %w", name, errBadName)
	}
	return decodeToken(dir, n.token)
}
