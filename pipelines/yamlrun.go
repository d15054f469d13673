package pipelines

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/connect"
)

// PipelineStats is the progress of one pipeline of a file.
type PipelineStats struct {
	Name   string
	Stages []connect.Stats
	// Outputs are the file's outputs the pipeline writes, with the
	// records it wrote to each, in the order it declares them.
	Outputs []OutputStats
}

// OutputStats counts the records a pipeline wrote to an output of its
// file: taken by the output's sink (see connect.Stats.Written).
type OutputStats struct {
	Name    string
	Role    string // RoleOutput, RoleLate or RoleDeadLetter
	Records int64
}

// Stats returns the progress of the file's pipelines, in file order.
func (f *File) Stats() []PipelineStats {
	out := make([]PipelineStats, len(f.Pipelines))
	for i, p := range f.Pipelines {
		ps := PipelineStats{Name: p.g.Name(), Stages: p.Stats()}
		for _, l := range p.labels {
			o := OutputStats{Name: l.name, Role: l.role}
			for _, st := range ps.Stages {
				o.Records += st.Written[l.sink]
			}
			ps.Outputs = append(ps.Outputs, o)
		}
		out[i] = ps
	}
	return out
}

// Run runs the file's pipelines until ctx ends (they then commit and Run
// returns nil) or one fails (the others are stopped). Without a
// bootstrap, the embedded broker runs in-process on DataDir/broker for
// all of them. With Once, each pipeline processes what its inputs hold
// and stops; a pipeline reading a topic that another pipeline of the file
// writes starts when that one is done, so that a file feeding a topic and
// aggregating it runs in one go.
func (f *File) Run(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Join(f.DataDir, "offsets"), 0o755); err != nil {
		return err
	}
	brokers := f.Bootstrap
	if len(brokers) == 0 {
		b, err := broker.New(broker.DataDir(filepath.Join(f.DataDir, "broker")), broker.ListenAddr("127.0.0.1:0"), broker.GroupInitialRebalanceDelay(0))
		if err != nil {
			return fmt.Errorf("starting the embedded broker: %w", err)
		}
		defer b.Close()
		brokers = []string{b.Addr()}
	}
	for _, p := range f.Pipelines {
		p.opts.Brokers = brokers
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make([]chan struct{}, len(f.Pipelines))
	for i := range done {
		done[i] = make(chan struct{})
	}
	var wg sync.WaitGroup
	errs := make([]error, len(f.Pipelines))
	for i, p := range f.Pipelines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[i])
			if f.once {
				for _, j := range f.after[i] {
					if !f.dependsOn(j, i) { // a cycle runs together
						select {
						case <-done[j]:
						case <-ctx.Done():
							return
						}
					}
				}
				if ctx.Err() != nil {
					return
				}
			}
			if err := p.Run(ctx); err != nil {
				errs[i] = fmt.Errorf("pipeline %s: %w", p.g.Name(), err)
				cancel()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// dependsOn reports whether pipeline i waits, directly or not, for j.
func (f *File) dependsOn(i, j int) bool {
	seen := map[int]bool{}
	var walk func(k int) bool
	walk = func(k int) bool {
		if k == j {
			return true
		}
		if seen[k] {
			return false
		}
		seen[k] = true
		for _, n := range f.after[k] {
			if walk(n) {
				return true
			}
		}
		return false
	}
	for _, n := range f.after[i] {
		if walk(n) {
			return true
		}
	}
	return false
}

// Names returns the names of the file's pipelines, in file order.
func (f *File) Names() []string {
	out := make([]string, len(f.Pipelines))
	for i, p := range f.Pipelines {
		out[i] = p.g.Name()
	}
	return out
}

// OutputInfo says where an output of a file writes, for people.
type OutputInfo struct {
	Name, Connector string
	Where           string // "files in out/counts", "topic counts"
}

// Outputs returns the outputs the file's pipelines write, by name.
func (f *File) Outputs() []OutputInfo { return f.outputs }
