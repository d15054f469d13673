package pipelines

import (
	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
	pgsink "github.com/runnel-io/runnel/sinks/postgres"
	pgsrc "github.com/runnel-io/runnel/sources/postgres"
)

// FromPostgres reads a table or query by polling (see sources/postgres):
// keys are the key column's text, values the rows as JSON objects. With
// Options.Once the source stops at the rows there when it starts.
func FromPostgres[V any](p *Pipeline, cfg pgsrc.Config, values engine.Serde[V]) engine.Stream[string, V] {
	name := "postgres:" + cfg.Name
	if cfg.Name == "" {
		name = "postgres:" + cfg.Table
	}
	p.local[name] = localInput{kind: "postgres", name: name, path: cfg.OffsetsFile}
	p.sources[name] = func(rt *runtime, stage int) (connect.Source, error) {
		c := cfg
		if c.Logger == nil {
			c.Logger = rt.opts.Logger
		}
		s, err := pgsrc.New(c)
		if err != nil {
			return nil, err
		}
		if rt.opts.Once {
			s.StopAtEnd()
		}
		return s, nil
	}
	return engine.From(p.g, name, engine.String(), values)
}

// ToPostgres writes to a PostgreSQL table, exactly once (see
// sinks/postgres): the rows and the positions they cover commit in one
// transaction, under the consumer "<pipeline>.<table>" unless
// cfg.Consumer is set.
func ToPostgres[K, V any](s engine.Stream[K, V], cfg pgsink.Config, keys engine.Serde[K], values engine.Serde[V]) {
	p := pipelineOf(s.Graph())
	if cfg.Consumer == "" {
		cfg.Consumer = p.g.Name() + "." + cfg.Table
	}
	name := "postgres:" + cfg.Consumer
	p.sinks[name] = func(*runtime, int, connect.Source, bool) (connect.Sink, error) {
		return pgsink.New(cfg)
	}
	engine.To(s, name, keys, values)
}
