package pipelines

import (
	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
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
