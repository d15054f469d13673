package pipelines

import (
	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
	essink "github.com/runnel-io/runnel/sinks/elasticsearch"
)

// ToElasticsearch indexes documents, exactly once (see
// sinks/elasticsearch): versions taken from the positions make replays
// idempotent, and the positions are stored in offsets documents under the
// consumer "<pipeline>.<name>" unless cfg.Consumer is set. name tells two
// Elasticsearch outputs of a pipeline apart.
func ToElasticsearch[K, V any](s engine.Stream[K, V], name string, cfg essink.Config, keys engine.Serde[K], values engine.Serde[V]) {
	p := pipelineOf(s.Graph())
	if cfg.Consumer == "" {
		cfg.Consumer = p.g.Name() + "." + name
	}
	out := "elasticsearch:" + cfg.Consumer
	p.sinks[out] = func(*runtime, int, connect.Source, bool) (connect.Sink, error) {
		return essink.New(cfg)
	}
	engine.To(s, out, keys, values)
}
