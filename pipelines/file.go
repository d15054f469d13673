package pipelines

import (
	"fmt"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
	filesink "github.com/runnel-io/runnel/sinks/file"
	filesrc "github.com/runnel-io/runnel/sources/file"
)

// FromFile reads files as configured; keys are empty.
func FromFile[V any](p *Pipeline, cfg filesrc.Config, values engine.Serde[V]) engine.Stream[string, V] {
	name := fmt.Sprintf("file:%v", cfg.Paths)
	p.local[name] = localInput{kind: "file", name: name, path: cfg.OffsetsFile}
	p.sources[name] = func(rt *runtime, stage int) (connect.Source, error) {
		c := cfg
		if !rt.opts.Once {
			c.Follow = true
		}
		return filesrc.New(c)
	}
	return engine.From(p.g, name, engine.String(), values)
}

// ToFile writes part files, exactly once.
func ToFile[K, V any](s engine.Stream[K, V], cfg filesink.Config, keys engine.Serde[K], values engine.Serde[V]) {
	p := pipelineOf(s.Graph())
	name := "file:" + cfg.Dir
	p.sinks[name] = func(*runtime, int, connect.Source, bool) (connect.Sink, error) {
		return filesink.New(cfg)
	}
	engine.To(s, name, keys, values)
}
