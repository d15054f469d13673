package pipelines

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/pipelines/exprs"
	"github.com/runnel-io/runnel/pipelines/spec"
	essink "github.com/runnel-io/runnel/sinks/elasticsearch"
	filesink "github.com/runnel-io/runnel/sinks/file"
	pgsink "github.com/runnel-io/runnel/sinks/postgres"
	topicsink "github.com/runnel-io/runnel/sinks/topic"
	"github.com/runnel-io/runnel/sources/datagen"
	filesrc "github.com/runnel-io/runnel/sources/file"
	pgsrc "github.com/runnel-io/runnel/sources/postgres"
	topicsrc "github.com/runnel-io/runnel/sources/topic"
)

// The connectors of YAML files, by the name a file gives them. Their
// configurations are the connectors' Config structs, so YAML and Go use
// the same field names; the fields the runtime sets (brokers, group,
// transactional ids) are left out of YAML.

// sourceConn is a source connector of YAML inputs.
type sourceConn struct {
	spec spec.Field
	// config decodes a checked node into the connector's Config.
	config func(n *yaml.Node) (any, error)
	// valueFormat is the default value format of its records.
	valueFormat func(cfg any) string
	// bind declares the input's stream in the pipeline; the records are
	// raw bytes, decoded by the caller.
	bind func(p *Pipeline, in *inputDecl, dataDir string) engine.Stream[[]byte, []byte]
	// topics are the topics the input reads: inputs of topics are merged
	// into one source.
	topics func(cfg any) []string
}

// sinkConn is a sink connector of YAML outputs.
type sinkConn struct {
	spec   spec.Field
	config func(n *yaml.Node) (any, error)
	// bind declares the output: s is written with these serdes.
	bind func(s engine.Stream[any, any], out *outputDecl)
	// topic is the topic an output writes, "" when it is no topic.
	topic func(cfg any) string
	// where says where it writes, for people.
	where func(cfg any) string
	// single says the output takes one writer (a directory of part
	// files): two pipelines may not share it.
	single bool
}

func decodeAs[T any](n *yaml.Node) (any, error) {
	var cfg T
	if err := n.Decode(&cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

var sourceConns = map[string]sourceConn{
	"topic": {
		spec: spec.Without(spec.FromStruct(topicsrc.Config{}), "brokers", "group", "session_timeout", "instance_id"),
		config: func(n *yaml.Node) (any, error) {
			cfg, err := decodeAs[topicsrc.Config](n)
			if err == nil {
				// what the runtime sets, for Validate
				c := *cfg.(*topicsrc.Config)
				c.Brokers, c.Group = []string{"runtime:9092"}, "runtime"
				err = c.Validate()
			}
			return cfg, err
		},
		valueFormat: func(any) string { return formatJSON },
		topics:      func(cfg any) []string { return cfg.(*topicsrc.Config).Topics },
		// topic inputs are bound together by the pipeline (one source)
	},
	"file": {
		spec:   spec.FromStruct(filesrc.Config{}),
		config: func(n *yaml.Node) (any, error) { return validated[filesrc.Config](n) },
		valueFormat: func(cfg any) string {
			if f := cfg.(*filesrc.Config).Format; f == filesrc.FormatJSONL || f == filesrc.FormatCSV {
				return formatJSON
			}
			return formatString
		},
		bind: func(p *Pipeline, in *inputDecl, dataDir string) engine.Stream[[]byte, []byte] {
			cfg := *in.cfg.(*filesrc.Config)
			if cfg.OffsetsFile == "" {
				cfg.OffsetsFile = filepath.Join(dataDir, "offsets", p.g.Name()+"."+in.name+".json")
			}
			s := FromFile(p, cfg, engine.Bytes())
			p.nameLocal(cfg.OffsetsFile, in.name)
			return engine.MapRecord(s, func(r engine.Record[string, []byte]) (engine.Record[[]byte, []byte], error) {
				return engine.Record[[]byte, []byte]{Value: r.Value, Time: r.Time, Headers: r.Headers, Pos: r.Pos}, nil
			}, engine.Name("input-"+in.name))
		},
	},
	"postgres": {
		spec:        spec.FromStruct(pgsrc.Config{}),
		config:      func(n *yaml.Node) (any, error) { return validated[pgsrc.Config](n) },
		valueFormat: func(any) string { return formatJSON },
		bind: func(p *Pipeline, in *inputDecl, dataDir string) engine.Stream[[]byte, []byte] {
			cfg := *in.cfg.(*pgsrc.Config)
			if cfg.OffsetsFile == "" {
				cfg.OffsetsFile = filepath.Join(dataDir, "offsets", p.g.Name()+"."+in.name+".json")
			}
			s := FromPostgres(p, cfg, engine.Bytes())
			p.nameLocal(cfg.OffsetsFile, in.name)
			return engine.MapRecord(s, func(r engine.Record[string, []byte]) (engine.Record[[]byte, []byte], error) {
				return engine.Record[[]byte, []byte]{Key: []byte(r.Key), Value: r.Value, Time: r.Time, Headers: r.Headers, Pos: r.Pos}, nil
			}, engine.Name("input-"+in.name))
		},
	},
	"datagen": {
		spec:        spec.FromStruct(datagen.Config{}),
		config:      func(n *yaml.Node) (any, error) { return validated[datagen.Config](n) },
		valueFormat: func(any) string { return formatJSON },
		bind: func(p *Pipeline, in *inputDecl, dataDir string) engine.Stream[[]byte, []byte] {
			cfg := *in.cfg.(*datagen.Config)
			if cfg.OffsetsFile == "" {
				cfg.OffsetsFile = filepath.Join(dataDir, "offsets", p.g.Name()+"."+in.name+".json")
			}
			p.local["datagen:"+in.name] = localInput{kind: "datagen", name: in.name, path: cfg.OffsetsFile, preset: cfg.Preset}
			return FromSource(p, "datagen:"+in.name, func() (connect.Source, error) { return datagen.New(cfg) }, engine.Bytes(), engine.Bytes())
		},
	},
}

var sinkConns = map[string]sinkConn{
	"topic": {
		spec: spec.Without(spec.FromStruct(topicsink.Config{}), "brokers", "transactional_id"),
		config: func(n *yaml.Node) (any, error) {
			cfg, err := decodeAs[topicsink.Config](n)
			if err == nil {
				c := *cfg.(*topicsink.Config)
				c.Brokers = []string{"runtime:9092"}
				err = c.Validate()
			}
			return cfg, err
		},
		bind: func(s engine.Stream[any, any], out *outputDecl) {
			ToTopicConfig(s, *out.cfg.(*topicsink.Config), dynSerde{out.keyFormat}, dynSerde{out.valueFormat})
		},
		topic: func(cfg any) string { return cfg.(*topicsink.Config).Topic },
		where: func(cfg any) string { return "topic " + cfg.(*topicsink.Config).Topic },
	},
	"postgres": {
		spec:   spec.FromStruct(pgsink.Config{}),
		config: func(n *yaml.Node) (any, error) { return validated[pgsink.Config](n) },
		bind: func(s engine.Stream[any, any], out *outputDecl) {
			cfg := *out.cfg.(*pgsink.Config)
			cfg.Consumer = pipelineOf(s.Graph()).g.Name() + "." + out.name
			ToPostgres(s, cfg, dynSerde{out.keyFormat}, dynSerde{out.valueFormat})
		},
		topic: func(any) string { return "" },
		where: func(cfg any) string { return "table " + cfg.(*pgsink.Config).Table },
	},
	"elasticsearch": {
		spec: spec.FromStruct(esOutput{}),
		config: func(n *yaml.Node) (any, error) {
			cfg, err := decodeAs[esOutput](n)
			if err == nil {
				c := cfg.(*esOutput).Config
				c.Consumer = "runtime" // what the runtime sets, for Validate
				err = c.Validate()
			}
			if e := cfg.(*esOutput).IndexExpression; err == nil && e != "" {
				if _, cerr := exprs.Compile(e, exprs.String); cerr != nil {
					err = fmt.Errorf("index_expression: %w", cerr)
				}
			}
			return cfg, err
		},
		bind: func(s engine.Stream[any, any], out *outputDecl) {
			o := out.cfg.(*esOutput)
			cfg := o.Config
			if o.IndexExpression != "" {
				s, cfg.IndexFunc = indexByExpression(s, o.IndexExpression, out.name)
			}
			ToElasticsearch(s, out.name, cfg, dynSerde{out.keyFormat}, dynSerde{out.valueFormat})
		},
		topic: func(any) string { return "" },
		where: func(cfg any) string {
			if e := cfg.(*esOutput).IndexExpression; e != "" {
				return "the indices of " + e
			}
			return "index " + cfg.(*esOutput).Index
		},
	},
	"file": {
		spec:   spec.FromStruct(filesink.Config{}),
		config: func(n *yaml.Node) (any, error) { return validated[filesink.Config](n) },
		bind: func(s engine.Stream[any, any], out *outputDecl) {
			ToFile(s, *out.cfg.(*filesink.Config), dynSerde{out.keyFormat}, dynSerde{out.valueFormat})
		},
		topic:  func(any) string { return "" },
		where:  func(cfg any) string { return "part files in " + cfg.(*filesink.Config).Dir },
		single: true,
	},
}

// validated decodes a Config that has a Validate method.
func validated[T any, PT interface {
	*T
	Validate() error
}](n *yaml.Node) (any, error) {
	var cfg T
	if err := n.Decode(&cfg); err != nil {
		return nil, err
	}
	return &cfg, PT(&cfg).Validate()
}

func names[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// unknownConnector is the message for a connector name nobody knows.
func unknownConnector(name string, known []string) string {
	msg := fmt.Sprintf("unknown connector %q", name)
	if s := spec.Suggest(name, known); s != "" {
		return msg + fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg + fmt.Sprintf(" (one of %s)", joinQuoted(known))
}

func joinQuoted(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// esOutput is an elasticsearch output: the sink's Config, and the index
// as an expression of the record.
type esOutput struct {
	essink.Config `yaml:",inline"`
	// IndexExpression, when set, computes each record's index (a
	// string) instead of Index.
	IndexExpression string `yaml:"index_expression"`
}

// indexHeader carries the index an expression chose from the pipeline to
// the sink; the sink does not index headers.
const indexHeader = "runnel.elasticsearch.index"

// indexByExpression adds to every record of s a header holding the index
// src computes, and returns the IndexFunc that reads it.
func indexByExpression(s engine.Stream[any, any], src, output string) (engine.Stream[any, any], func(*connect.Record) (string, error)) {
	p, err := exprs.Compile(src, exprs.String)
	if err != nil {
		panic(err) // checked when the file was loaded
	}
	e := recExpr{p, p.Uses("headers")}
	s = engine.MapRecord(s, func(r engine.Record[any, any]) (engine.Record[any, any], error) {
		v, err := p.Run(e.env(&r))
		if err != nil {
			return r, err
		}
		idx, ok := v.(string)
		if !ok || idx == "" {
			return r, fmt.Errorf("index_expression %s gave %v, not an index name", src, v)
		}
		r.Headers = append(append([]engine.Header(nil), r.Headers...), engine.Header{Key: indexHeader, Value: []byte(idx)})
		return r, nil
	}, engine.Name("index-of-"+output))
	return s, func(rec *connect.Record) (string, error) {
		if v, ok := rec.Header(indexHeader); ok {
			return string(v), nil
		}
		return "", fmt.Errorf("the record has no %s header", indexHeader)
	}
}
