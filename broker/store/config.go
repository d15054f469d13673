package store

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/runnel-io/runnel/broker/log"
)

// ConfigSource says where the value of a topic config comes from, as in
// Kafka's DescribeConfigs.
type ConfigSource int8

const (
	// SourceDefault is the log package's built-in default (Kafka:
	// DEFAULT_CONFIG).
	SourceDefault ConfigSource = iota
	// SourceBroker is Options.DefaultTopicConfig (Kafka:
	// STATIC_BROKER_CONFIG).
	SourceBroker
	// SourceTopic is set on the topic itself (Kafka: DYNAMIC_TOPIC_CONFIG).
	SourceTopic
)

func (c ConfigSource) String() string {
	switch c {
	case SourceDefault:
		return "default"
	case SourceBroker:
		return "broker"
	case SourceTopic:
		return "topic"
	}
	return "ConfigSource(" + strconv.Itoa(int(c)) + ")"
}

// ConfigEntry is one topic config in force.
type ConfigEntry struct {
	Name   string
	Value  string
	Source ConfigSource
}

// TopicDescription describes a topic. It is a copy: the caller owns it.
type TopicDescription struct {
	Name       string
	ID         UUID
	Partitions int
	// Configs has one entry per key of log.ConfigKeys, in that order.
	Configs []ConfigEntry
}

// Config returns the entry for the config name.
func (d *TopicDescription) Config(name string) (ConfigEntry, bool) {
	for _, c := range d.Configs {
		if c.Name == name {
			return c, true
		}
	}
	return ConfigEntry{}, false
}

// builtinDefaults are the log package's defaults as config strings.
var builtinDefaults = sync.OnceValue(func() map[string]string {
	return new(log.Options).EnsureDefaults().Config()
})

// describe builds the description of t.
func (s *Store) describe(t *topic) TopicDescription {
	d := TopicDescription{Name: t.name, ID: t.id, Partitions: len(t.logs)}
	for _, k := range log.ConfigKeys {
		e := ConfigEntry{Name: k, Value: builtinDefaults()[k], Source: SourceDefault}
		if v, ok := s.opts.logDefaults[k]; ok {
			e.Value, e.Source = v, SourceBroker
		}
		if v, ok := t.configs[k]; ok {
			e.Value, e.Source = v, SourceTopic
		}
		d.Configs = append(d.Configs, e)
	}
	return d
}

// configProblems checks topic configs key by key, so that every bad key is
// reported (log.FromConfig stops at parse errors before range checks).
// The result is sorted.
func configProblems(cfg map[string]string) []string {
	var problems []string
	for k, v := range cfg {
		if _, err := log.FromConfig(map[string]string{k: v}); err != nil {
			problems = append(problems, logProblem(err))
		}
	}
	if len(problems) == 0 {
		if _, err := log.FromConfig(cfg); err != nil {
			problems = append(problems, logProblem(err))
		}
	}
	slices.Sort(problems)
	return problems
}

// logProblem is the text of an error of log.FromConfig without its package
// prefix and on one line, for embedding in a list of problems.
func logProblem(err error) string {
	s := strings.TrimPrefix(err.Error(), "broker/log: ")
	s = strings.TrimPrefix(s, "invalid options:")
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}

// logOptions are the options of partition p of a topic with configs: the
// broker defaults overridden by the topic's own.
func (s *Store) logOptions(topic string, p int, configs map[string]string) (log.Options, error) {
	merged := maps.Clone(s.opts.logDefaults)
	maps.Copy(merged, configs)
	o, err := log.FromConfig(merged)
	if err != nil {
		return o, fmt.Errorf("%w: topic %q: %s", ErrInvalidConfig, topic, logProblem(err))
	}
	o.Logger = s.opts.Logger.With("topic", topic, "partition", p)
	o.Now = s.opts.Now
	return o, nil
}
