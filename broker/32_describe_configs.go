package broker

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/broker/log"
	"github.com/runnel-io/runnel/broker/store"
)

// DescribeConfigs: v0-v4. Topic resources list every config of
// log.ConfigKeys (the only topic configs runnel has; Kafka has more) with
// its value and source (DYNAMIC_TOPIC_CONFIG when set on the topic,
// STATIC_BROKER_CONFIG when it comes from the broker's defaults,
// DEFAULT_CONFIG otherwise); none is read-only. With synonyms (v1+), each
// entry lists the topic value, the broker default under Kafka's broker name
// (log.retention.ms for retention.ms, ...) and the built-in default, in
// that order of precedence. Documentation (v3+) is a one-line summary.
// Config names filter the answer (an empty list, like null, asks for all;
// names runnel does not have are left out, as Kafka does).
//
// A broker resource named after this node describes what the broker was
// started with: node.id, log.dirs, listeners, advertised.listeners,
// socket.request.max.bytes, num.partitions, auto.create.topics.enable and
// the topic defaults under their log.* names. All are read-only: runnel
// has no dynamic broker configs, they change with the flags of `runnel
// broker` and a restart. The empty broker name (Kafka: the cluster-wide
// dynamic defaults) therefore answers with no configs. Another broker id is
// INVALID_REQUEST; other resource types are INVALID_REQUEST too.

func init() { regKey(kmsg.DescribeConfigs, 0, 4, handleDescribeConfigs) }

func handleDescribeConfigs(b *Broker, _ *clientConn, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range req.Resources {
		r := kmsg.NewDescribeConfigsResponseResource()
		r.ResourceType, r.ResourceName = rr.ResourceType, rr.ResourceName
		var configs []configInfo
		var err error
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			configs, err = topicConfigs(b, rr.ResourceName)
		case kmsg.ConfigResourceTypeBroker:
			configs, err = brokerConfigs(b, rr.ResourceName)
		default:
			err = unsupportedResource(rr.ResourceType)
		}
		if err != nil {
			r.ErrorCode, r.ErrorMessage = errorCode(err), errorMessage(err)
			resp.Resources = append(resp.Resources, r)
			continue
		}
		for _, c := range configs {
			if len(rr.ConfigNames) > 0 && !slices.Contains(rr.ConfigNames, c.name) {
				continue
			}
			rc := kmsg.NewDescribeConfigsResponseResourceConfig()
			rc.Name = c.name
			rc.Value = kmsg.StringPtr(c.value)
			rc.ReadOnly = c.readOnly
			rc.Source = c.source
			rc.IsDefault = c.source == kmsg.ConfigSourceDefaultConfig
			rc.ConfigType = c.meta.typ
			if req.IncludeSynonyms {
				for _, s := range c.synonyms {
					rs := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
					rs.Name, rs.Value, rs.Source = s.name, kmsg.StringPtr(s.value), s.source
					rc.ConfigSynonyms = append(rc.ConfigSynonyms, rs)
				}
			}
			if req.IncludeDocumentation && c.meta.doc != "" {
				rc.Documentation = kmsg.StringPtr(c.meta.doc)
			}
			r.Configs = append(r.Configs, rc)
		}
		resp.Resources = append(resp.Resources, r)
	}
	return resp
}

// configInfo is one config in force on a resource, with the chain of
// values it overrides (its synonyms, itself first).
type configInfo struct {
	name, value string
	source      kmsg.ConfigSource
	readOnly    bool
	meta        configMeta
	synonyms    []configSynonym
}

type configSynonym struct {
	name, value string
	source      kmsg.ConfigSource
}

// configMeta is what DescribeConfigs v3+ says about a config beyond its
// value, and the broker-level name of a topic config.
type configMeta struct {
	typ        kmsg.ConfigType
	brokerName string // the broker default's name, for topic configs
	doc        string
}

// topicConfigMeta covers every key of log.ConfigKeys (a test checks it).
// Broker names and types are Kafka's.
var topicConfigMeta = map[string]configMeta{
	"cleanup.policy":         {kmsg.ConfigTypeList, "log.cleanup.policy", `"delete" (drop old segments), "compact" (keep the newest record per key) or both.`},
	"delete.retention.ms":    {kmsg.ConfigTypeLong, "log.cleaner.delete.retention.ms", "How long compaction keeps a tombstone (a record with a null value)."},
	"flush.messages":         {kmsg.ConfigTypeLong, "log.flush.interval.messages", "Fsync after this many records; 1 fsyncs every append before acknowledging it, and consumers see only fsynced records."},
	"flush.ms":               {kmsg.ConfigTypeLong, "log.flush.interval.ms", "With flush.messages above 1, the longest time records stay unflushed; 0 means no timed flush."},
	"index.interval.bytes":   {kmsg.ConfigTypeInt, "log.index.interval.bytes", "Log bytes between two entries of the offset index."},
	"max.message.bytes":      {kmsg.ConfigTypeInt, "message.max.bytes", "The largest record batch the topic accepts."},
	"message.timestamp.type": {kmsg.ConfigTypeString, "log.message.timestamp.type", `"CreateTime" keeps the producer's timestamps, "LogAppendTime" stamps batches with the broker's clock.`},
	"retention.bytes":        {kmsg.ConfigTypeLong, "log.retention.bytes", "Delete the oldest segments of a partition while it is larger than this; -1 means no limit."},
	"retention.ms":           {kmsg.ConfigTypeLong, "log.retention.ms", "Delete segments whose newest record is older than this; -1 keeps them forever."},
	"segment.bytes":          {kmsg.ConfigTypeInt, "log.segment.bytes", "Roll a new segment before the active one would grow past this size."},
	"segment.ms":             {kmsg.ConfigTypeLong, "log.roll.ms", "Roll a new segment when the first record of the active one is older than this."},
}

// topicConfigs are the configs in force on topic name, in log.ConfigKeys
// order.
func topicConfigs(b *Broker, name string) ([]configInfo, error) {
	if err := store.ValidateTopicName(name); err != nil {
		return nil, err
	}
	d, err := b.store.Topic(name)
	if err != nil {
		return nil, err
	}
	bopts := b.storeOptions()
	builtin := builtinTopicDefaults()
	out := make([]configInfo, 0, len(d.Configs))
	for _, e := range d.Configs {
		meta := topicConfigMeta[e.Name]
		c := configInfo{name: e.Name, value: e.Value, source: kmsg.ConfigSource(configSource(e.Source)), meta: meta}
		if e.Source == store.SourceTopic {
			c.synonyms = append(c.synonyms, configSynonym{e.Name, e.Value, kmsg.ConfigSourceDynamicTopicConfig})
		}
		if v, ok := bopts.DefaultTopicConfig[e.Name]; ok {
			c.synonyms = append(c.synonyms, configSynonym{meta.brokerName, v, kmsg.ConfigSourceStaticBrokerConfig})
		}
		c.synonyms = append(c.synonyms, configSynonym{meta.brokerName, builtin[e.Name], kmsg.ConfigSourceDefaultConfig})
		out = append(out, c)
	}
	return out, nil
}

// brokerConfigs are the configs this broker runs with, for the broker
// resource name: this node's id, or "" for the cluster-wide dynamic
// defaults, of which runnel has none.
func brokerConfigs(b *Broker, name string) ([]configInfo, error) {
	nodeID := strconv.Itoa(int(b.store.NodeID()))
	switch name {
	case "":
		return nil, nil
	case nodeID:
	default:
		return nil, apiErrorf(kerr.InvalidRequest, "unexpected broker id %q: this is broker %s (or use the empty name for cluster-wide defaults)", name, nodeID)
	}
	bopts := b.storeOptions()
	static := kmsg.ConfigSourceStaticBrokerConfig
	var out []configInfo
	add := func(name, value string, source kmsg.ConfigSource, typ kmsg.ConfigType, doc string) {
		c := configInfo{name: name, value: value, source: source, readOnly: true, meta: configMeta{typ: typ, doc: doc}}
		c.synonyms = []configSynonym{{name, value, source}}
		out = append(out, c)
	}
	// sourceIf is STATIC_BROKER_CONFIG when a value is not Kafka's default.
	sourceIf := func(set bool) kmsg.ConfigSource {
		if set {
			return static
		}
		return kmsg.ConfigSourceDefaultConfig
	}

	add("node.id", nodeID, static, kmsg.ConfigTypeInt, "The id of this broker, from meta.properties in the data directory.")
	add("log.dirs", b.store.Dir(), static, kmsg.ConfigTypeString, "The data directory (runnel serves one).")
	add("listeners", "PLAINTEXT://"+b.ln.Addr().String(), static, kmsg.ConfigTypeList, "The address the broker listens on.")
	add("advertised.listeners", "PLAINTEXT://"+b.addr, static, kmsg.ConfigTypeList, "The address Metadata gives clients to connect to.")
	add("socket.request.max.bytes", strconv.Itoa(int(b.cfg.maxRequestBytes)), sourceIf(b.cfg.maxRequestBytes != defaultCfg().maxRequestBytes),
		kmsg.ConfigTypeInt, "The largest request accepted; a larger one closes the connection.")

	partitions, set := "1", false
	if v, ok := bopts.DefaultTopicConfig[store.ConfigNumPartitions]; ok {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			partitions, set = strconv.Itoa(n), true
		}
	}
	add(store.ConfigNumPartitions, partitions, sourceIf(set), kmsg.ConfigTypeInt, "The partition count of topics created without one, and of auto-created topics.")
	add("auto.create.topics.enable", strconv.FormatBool(bopts.AutoCreateTopics), sourceIf(!bopts.AutoCreateTopics),
		kmsg.ConfigTypeBoolean, "Whether producing to or asking metadata for an unknown topic creates it.")

	builtin := builtinTopicDefaults()
	for _, k := range log.ConfigKeys {
		meta := topicConfigMeta[k]
		c := configInfo{name: meta.brokerName, value: builtin[k], source: kmsg.ConfigSourceDefaultConfig, readOnly: true,
			meta: configMeta{typ: meta.typ, doc: "The default of the topic config " + k + ": " + meta.doc}}
		if v, ok := bopts.DefaultTopicConfig[k]; ok {
			c.value, c.source = v, static
			c.synonyms = append(c.synonyms, configSynonym{c.name, v, static})
		}
		c.synonyms = append(c.synonyms, configSynonym{c.name, builtin[k], kmsg.ConfigSourceDefaultConfig})
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b configInfo) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// storeOptions are the options the store was opened with.
func (b *Broker) storeOptions() *store.Options {
	if b.cfg.storeOpts != nil {
		return b.cfg.storeOpts
	}
	return store.DefaultOptions()
}

// builtinTopicDefaults are the log package's defaults as topic config
// values.
func builtinTopicDefaults() map[string]string { return new(log.Options).EnsureDefaults().Config() }

// unsupportedResource is the error for a config resource type runnel
// does not have.
func unsupportedResource(t kmsg.ConfigResourceType) error {
	return apiErrorf(kerr.InvalidRequest, "runnel has topic (2) and broker (4) config resources, not %s (%d)", t, int8(t))
}

// apiError is an error with a Kafka code and a message of our own: errorCode
// finds the code (it unwraps to the *kerr.Error), and the ErrorMessage
// fields carry the message without kerr's generic description. The config
// and partition admin handlers use it.
type apiError struct {
	code *kerr.Error
	msg  string
}

func apiErrorf(code *kerr.Error, format string, args ...any) error {
	return &apiError{code, fmt.Sprintf(format, args...)}
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.code }
