package broker

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/runnel-io/runnel/broker/log"
	"github.com/runnel-io/runnel/broker/store"
)

// clientAt is a client that speaks at most version v of API key.
func clientAt(t *testing.T, b *Broker, key kmsg.Key, v int16) *kgo.Client {
	t.Helper()
	vs := kversion.Stable()
	vs.SetMaxKeyVersion(int16(key), v)
	return newClient(t, b, kgo.MaxVersions(vs))
}

// versions runs fn once per version of key that the broker registers.
func versions(t *testing.T, key kmsg.Key, fn func(t *testing.T, v int16)) {
	h := handlers[key]
	for v := h.min; v <= h.max; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) { fn(t, v) })
	}
}

func mustCreateTopic(t *testing.T, adm *kadm.Client, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	resp, err := adm.CreateTopic(ctxT(t), partitions, 1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %q: %v", name, err)
	}
}

// sameErr compares errors that are nil or *kerr.Error values.
func sameErr(got error, want *kerr.Error) bool {
	if want == nil {
		return got == nil
	}
	return errors.Is(got, want)
}

// wantCode fails unless err is the Kafka error want.
func wantCode(t *testing.T, what string, err error, want *kerr.Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %s", what, err, want.Message)
	}
}

// The broker-side rendering of the built-in defaults agrees with what the
// store shows for a topic that relies on them, and every topic config has
// its metadata.
func TestBuiltinTopicDefaultsMatchStore(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	d, err := b.Store().CreateTopic("defaults", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	builtin := builtinTopicDefaults()
	if got := slices.Sorted(maps.Keys(builtin)); !slices.Equal(got, slices.Sorted(slices.Values(log.ConfigKeys))) {
		t.Fatalf("builtinTopicDefaults has keys %v, log.ConfigKeys %v", got, log.ConfigKeys)
	}
	for _, c := range d.Configs {
		if c.Source != store.SourceDefault || c.Value != builtin[c.Name] {
			t.Errorf("%s: store says %q (%s), broker %q", c.Name, c.Value, c.Source, builtin[c.Name])
		}
		if m, ok := topicConfigMeta[c.Name]; !ok || m.brokerName == "" || m.doc == "" || m.typ == kmsg.ConfigTypeUnknown {
			t.Errorf("%s: no metadata", c.Name)
		}
	}
}

func TestDescribeTopicConfigs(t *testing.T) {
	t.Parallel()
	b := startBroker(t, StoreOptions(&store.Options{
		AutoCreateTopics:   true,
		DefaultTopicConfig: map[string]string{"segment.bytes": "1048576"},
	}))
	adm := kadm.NewClient(newClient(t, b))
	mustCreateTopic(t, adm, "described", 2, map[string]*string{"retention.ms": kadm.StringPtr("60000")})
	builtin := builtinTopicDefaults()

	versions(t, kmsg.DescribeConfigs, func(t *testing.T, v int16) {
		cl := clientAt(t, b, kmsg.DescribeConfigs, v)
		req := kmsg.NewPtrDescribeConfigsRequest()
		req.IncludeSynonyms, req.IncludeDocumentation = true, true
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "described"
		req.Resources = append(req.Resources, rr)
		rr.ResourceName = "missing"
		req.Resources = append(req.Resources, rr)
		rr.ResourceName = "bad/name"
		req.Resources = append(req.Resources, rr)
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBrokerLogger, "0"
		req.Resources = append(req.Resources, rr)
		resp, err := req.RequestWith(ctxT(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		// The client shards the request (the broker logger resource goes
		// to broker 0): the answers come in any order.
		if len(resp.Resources) != 4 {
			t.Fatalf("%d resources", len(resp.Resources))
		}
		byName := map[string]kmsg.DescribeConfigsResponseResource{}
		for _, r := range resp.Resources {
			byName[r.ResourceName] = r
		}
		for name, want := range map[string]*kerr.Error{"missing": kerr.UnknownTopicOrPartition, "bad/name": kerr.InvalidTopicException, "0": kerr.InvalidRequest} {
			if r := byName[name]; r.ErrorCode != want.Code {
				t.Errorf("resource %q: code %d, want %s", name, r.ErrorCode, want.Message)
			}
		}
		r := byName["described"]
		if r.ErrorCode != 0 {
			t.Fatalf("error %d %v", r.ErrorCode, r.ErrorMessage)
		}
		var names []string
		for _, c := range r.Configs {
			names = append(names, c.Name)
			if c.Value == nil || c.ReadOnly || c.IsSensitive {
				t.Errorf("%s: %+v", c.Name, c)
				continue
			}
			wantValue, wantSource := builtin[c.Name], kmsg.ConfigSourceDefaultConfig
			switch c.Name {
			case "retention.ms":
				wantValue, wantSource = "60000", kmsg.ConfigSourceDynamicTopicConfig
			case "segment.bytes":
				wantValue, wantSource = "1048576", kmsg.ConfigSourceStaticBrokerConfig
			}
			if *c.Value != wantValue {
				t.Errorf("%s = %q, want %q", c.Name, *c.Value, wantValue)
			}
			if v == 0 {
				// v0 has IsDefault and no source.
				if c.IsDefault != (wantSource == kmsg.ConfigSourceDefaultConfig) {
					t.Errorf("%s: is_default %v", c.Name, c.IsDefault)
				}
				continue
			}
			if c.Source != wantSource {
				t.Errorf("%s: source %s, want %s", c.Name, c.Source, wantSource)
			}
			var syns []string
			for _, s := range c.ConfigSynonyms {
				syns = append(syns, fmt.Sprintf("%s=%s/%s", s.Name, *s.Value, s.Source))
			}
			broker := topicConfigMeta[c.Name].brokerName
			wantSyns := []string{fmt.Sprintf("%s=%s/%s", broker, builtin[c.Name], kmsg.ConfigSourceDefaultConfig)}
			switch c.Name {
			case "retention.ms":
				wantSyns = append([]string{"retention.ms=60000/" + kmsg.ConfigSourceDynamicTopicConfig.String()}, wantSyns...)
			case "segment.bytes":
				wantSyns = append([]string{"log.segment.bytes=1048576/" + kmsg.ConfigSourceStaticBrokerConfig.String()}, wantSyns...)
			}
			if !slices.Equal(syns, wantSyns) {
				t.Errorf("%s: synonyms %q, want %q", c.Name, syns, wantSyns)
			}
			if v >= 3 && (c.Documentation == nil || *c.Documentation == "" || c.ConfigType == kmsg.ConfigTypeUnknown) {
				t.Errorf("%s: documentation %v, type %s", c.Name, c.Documentation, c.ConfigType)
			}
		}
		if !slices.Equal(names, log.ConfigKeys) {
			t.Errorf("configs %q, want %q", names, log.ConfigKeys)
		}
	})

	// Asking for some names returns those only; kadm's view agrees.
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "described"
	rr.ConfigNames = []string{"cleanup.policy", "retention.ms", "no.such.config"}
	req.Resources = append(req.Resources, rr)
	resp, err := req.RequestWith(ctxT(t), newClient(t, b))
	if err != nil {
		t.Fatal(err)
	}
	if cs := resp.Resources[0].Configs; len(cs) != 2 || cs[0].Name != "cleanup.policy" || cs[1].Name != "retention.ms" {
		t.Fatalf("filtered configs: %+v", cs)
	}
	rcs, err := adm.DescribeTopicConfigs(ctxT(t), "described")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On("described", nil)
	if err != nil || rc.Err != nil || len(rc.Configs) != len(log.ConfigKeys) {
		t.Fatalf("kadm: %v %+v", err, rc)
	}
}

func TestDescribeBrokerConfigs(t *testing.T) {
	t.Parallel()
	b := startBroker(t, StoreOptions(&store.Options{
		DefaultTopicConfig: map[string]string{"num.partitions": "3", "retention.ms": "1000"},
	}))
	cl := newClient(t, b)
	adm := kadm.NewClient(cl)
	node := b.Store().NodeID()
	rcs, err := adm.DescribeBrokerConfigs(ctxT(t), node)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(strconv.Itoa(int(node)), nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("%v %+v", err, rc)
	}
	got := map[string]kadm.Config{}
	for _, c := range rc.Configs {
		got[c.Key] = c
	}
	for name, want := range map[string]struct {
		value  string
		source kmsg.ConfigSource
	}{
		"num.partitions":            {"3", kmsg.ConfigSourceStaticBrokerConfig},
		"auto.create.topics.enable": {"false", kmsg.ConfigSourceStaticBrokerConfig},
		"log.retention.ms":          {"1000", kmsg.ConfigSourceStaticBrokerConfig},
		"log.segment.bytes":         {builtinTopicDefaults()["segment.bytes"], kmsg.ConfigSourceDefaultConfig},
		"log.cleanup.policy":        {"delete", kmsg.ConfigSourceDefaultConfig},
		"message.max.bytes":         {builtinTopicDefaults()["max.message.bytes"], kmsg.ConfigSourceDefaultConfig},
		"node.id":                   {strconv.Itoa(int(node)), kmsg.ConfigSourceStaticBrokerConfig},
		"log.dirs":                  {b.Store().Dir(), kmsg.ConfigSourceStaticBrokerConfig},
		"advertised.listeners":      {"PLAINTEXT://" + b.Addr(), kmsg.ConfigSourceStaticBrokerConfig},
		"socket.request.max.bytes":  {"104857600", kmsg.ConfigSourceDefaultConfig},
	} {
		c, ok := got[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if c.Value == nil || *c.Value != want.value || c.Source != want.source {
			t.Errorf("%s = %q (%s), want %q (%s)", name, c.MaybeValue(), c.Source, want.value, want.source)
		}
	}
	if s := got["log.retention.ms"].Synonyms; len(s) != 2 || s[1].Source != kmsg.ConfigSourceDefaultConfig || *s[1].Value != builtinTopicDefaults()["retention.ms"] {
		t.Errorf("log.retention.ms synonyms: %+v", s)
	}

	// The cluster-wide dynamic defaults: none.
	rcs, err = adm.DescribeBrokerConfigs(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(rcs) != 1 || rcs[0].Err != nil || len(rcs[0].Configs) != 0 {
		t.Fatalf("cluster-wide: %+v", rcs)
	}

	// Another broker's id.
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, "7"
	req.Resources = append(req.Resources, rr)
	resp, err := req.RequestWith(ctxT(t), cl.Broker(int(node)))
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.Resources[0]; r.ErrorCode != kerr.InvalidRequest.Code || r.ErrorMessage == nil || !strings.Contains(*r.ErrorMessage, `"7"`) {
		t.Fatalf("broker 7: %d %v", r.ErrorCode, r.ErrorMessage)
	}
}

// topicConfigsNow returns the configs set on the topic itself.
func topicConfigsNow(t *testing.T, b *Broker, topic string) map[string]string {
	t.Helper()
	d, err := b.Store().Topic(topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range d.Configs {
		if c.Source == store.SourceTopic {
			out[c.Name] = c.Value
		}
	}
	return out
}

func TestAlterConfigsReplacesTheSet(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	adm := kadm.NewClient(newClient(t, b))
	versions(t, kmsg.AlterConfigs, func(t *testing.T, v int16) {
		ctx := ctxT(t)
		topic := fmt.Sprintf("alter-v%d", v)
		mustCreateTopic(t, adm, topic, 1, map[string]*string{"retention.ms": kadm.StringPtr("1000"), "cleanup.policy": kadm.StringPtr("compact")})
		vadm := kadm.NewClient(clientAt(t, b, kmsg.AlterConfigs, v))
		set := []kadm.AlterConfig{{Name: "segment.bytes", Value: kadm.StringPtr("2097152")}, {Name: "retention.ms", Value: kadm.StringPtr("5000")}}

		rs, err := vadm.ValidateAlterTopicConfigsState(ctx, set, topic)
		if err != nil || rs[0].Err != nil {
			t.Fatalf("validate: %v %+v", err, rs)
		}
		if got := topicConfigsNow(t, b, topic); !maps.Equal(got, map[string]string{"retention.ms": "1000", "cleanup.policy": "compact"}) {
			t.Fatalf("validate_only changed the configs: %v", got)
		}
		rs, err = vadm.AlterTopicConfigsState(ctx, set, topic)
		if err != nil || rs[0].Err != nil {
			t.Fatalf("alter: %v %+v", err, rs)
		}
		if got := topicConfigsNow(t, b, topic); !maps.Equal(got, map[string]string{"retention.ms": "5000", "segment.bytes": "2097152"}) {
			t.Fatalf("after alter: %v", got)
		}

		for _, tc := range []struct {
			name    string
			configs []kadm.AlterConfig
			topic   string
			want    *kerr.Error
			msg     string
		}{
			{"bad value", []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("soon")}, {Name: "cleanup.policy", Value: kadm.StringPtr("forever")}}, topic, kerr.InvalidConfig, "not an integer"},
			{"unknown key", []kadm.AlterConfig{{Name: "retention.mss", Value: kadm.StringPtr("1")}}, topic, kerr.InvalidConfig, "retention.mss"},
			{"null value", []kadm.AlterConfig{{Name: "retention.ms"}}, topic, kerr.InvalidConfig, "null"},
			{"twice", []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("1")}, {Name: "retention.ms", Value: kadm.StringPtr("2")}}, topic, kerr.InvalidRequest, "more than once"},
			{"unknown topic", nil, "no-such-topic", kerr.UnknownTopicOrPartition, ""},
		} {
			for _, validate := range []bool{true, false} {
				alter := vadm.AlterTopicConfigsState
				if validate {
					alter = vadm.ValidateAlterTopicConfigsState
				}
				rs, err := alter(ctx, tc.configs, tc.topic)
				if err != nil {
					t.Fatal(err)
				}
				wantCode(t, fmt.Sprintf("%s (validate %v)", tc.name, validate), rs[0].Err, tc.want)
				if !strings.Contains(rs[0].ErrMessage, tc.msg) {
					t.Errorf("%s: message %q lacks %q", tc.name, rs[0].ErrMessage, tc.msg)
				}
			}
		}
		if got := topicConfigsNow(t, b, topic); !maps.Equal(got, map[string]string{"retention.ms": "5000", "segment.bytes": "2097152"}) {
			t.Fatalf("failed alters changed the configs: %v", got)
		}
	})

	// Broker configs are static; a resource named twice is refused.
	ctx := ctxT(t)
	rs, err := adm.AlterBrokerConfigsState(ctx, []kadm.AlterConfig{{Name: "num.partitions", Value: kadm.StringPtr("3")}}, b.Store().NodeID())
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "broker config", rs[0].Err, kerr.InvalidRequest)
	req := kmsg.NewPtrAlterConfigsRequest()
	rr := kmsg.NewAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "alter-v0"
	req.Resources = append(req.Resources, rr, rr)
	resp, err := req.RequestWith(ctx, newClient(t, b))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Resources {
		if r.ErrorCode != kerr.InvalidRequest.Code {
			t.Errorf("duplicate resource: code %d", r.ErrorCode)
		}
	}
}

func TestIncrementalAlterConfigs(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	adm := kadm.NewClient(newClient(t, b))
	versions(t, kmsg.IncrementalAlterConfigs, func(t *testing.T, v int16) {
		ctx := ctxT(t)
		topic := fmt.Sprintf("incr-v%d", v)
		mustCreateTopic(t, adm, topic, 1, map[string]*string{"retention.ms": kadm.StringPtr("1000"), "segment.bytes": kadm.StringPtr("2097152")})
		vadm := kadm.NewClient(clientAt(t, b, kmsg.IncrementalAlterConfigs, v))
		steps := []struct {
			ops  []kadm.AlterConfig
			want map[string]string
		}{
			{[]kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.bytes", Value: kadm.StringPtr("1000000")}, {Op: kadm.DeleteConfig, Name: "retention.ms"}},
				map[string]string{"segment.bytes": "2097152", "retention.bytes": "1000000"}},
			// From the default "delete".
			{[]kadm.AlterConfig{{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: kadm.StringPtr("compact")}},
				map[string]string{"segment.bytes": "2097152", "retention.bytes": "1000000", "cleanup.policy": "delete,compact"}},
			{[]kadm.AlterConfig{{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: kadm.StringPtr("compact,delete")}},
				map[string]string{"segment.bytes": "2097152", "retention.bytes": "1000000", "cleanup.policy": "delete,compact"}},
			{[]kadm.AlterConfig{{Op: kadm.SubtractConfig, Name: "cleanup.policy", Value: kadm.StringPtr("delete")}, {Op: kadm.DeleteConfig, Name: "segment.bytes"}},
				map[string]string{"retention.bytes": "1000000", "cleanup.policy": "compact"}},
			// Deleting a key that is not set is fine.
			{[]kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "flush.ms"}},
				map[string]string{"retention.bytes": "1000000", "cleanup.policy": "compact"}},
		}
		for i, s := range steps {
			before := topicConfigsNow(t, b, topic)
			rs, err := vadm.ValidateAlterTopicConfigs(ctx, s.ops, topic)
			if err != nil || rs[0].Err != nil {
				t.Fatalf("step %d: validate: %v %+v", i, err, rs)
			}
			if got := topicConfigsNow(t, b, topic); !maps.Equal(got, before) {
				t.Fatalf("step %d: validate_only changed the configs: %v", i, got)
			}
			rs, err = vadm.AlterTopicConfigs(ctx, s.ops, topic)
			if err != nil || rs[0].Err != nil {
				t.Fatalf("step %d: %v %+v", i, err, rs)
			}
			if got := topicConfigsNow(t, b, topic); !maps.Equal(got, s.want) {
				t.Fatalf("step %d: configs %v, want %v", i, got, s.want)
			}
		}

		for _, tc := range []struct {
			name string
			ops  []kadm.AlterConfig
			want *kerr.Error
			msg  string
		}{
			{"subtract all", []kadm.AlterConfig{{Op: kadm.SubtractConfig, Name: "cleanup.policy", Value: kadm.StringPtr("compact")}}, kerr.InvalidConfig, "cleanup.policy"},
			{"append to a number", []kadm.AlterConfig{{Op: kadm.AppendConfig, Name: "retention.ms", Value: kadm.StringPtr("1")}}, kerr.InvalidConfig, "not a list"},
			{"unknown key", []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "compression.typo", Value: kadm.StringPtr("zstd")}}, kerr.InvalidConfig, "compression.typo"},
			{"delete unknown key", []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "compression.typo"}}, kerr.InvalidConfig, "compression.typo"},
			{"null set", []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms"}}, kerr.InvalidConfig, "null"},
			{"bad value", []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "segment.bytes", Value: kadm.StringPtr("-5")}}, kerr.InvalidConfig, "segment.bytes"},
			{"twice", []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("1")}, {Op: kadm.DeleteConfig, Name: "retention.ms"}}, kerr.InvalidRequest, "more than once"},
		} {
			for _, validate := range []bool{true, false} {
				alter := vadm.AlterTopicConfigs
				if validate {
					alter = vadm.ValidateAlterTopicConfigs
				}
				rs, err := alter(ctx, tc.ops, topic)
				if err != nil {
					t.Fatal(err)
				}
				wantCode(t, fmt.Sprintf("%s (validate %v)", tc.name, validate), rs[0].Err, tc.want)
				if !strings.Contains(rs[0].ErrMessage, tc.msg) {
					t.Errorf("%s: message %q lacks %q", tc.name, rs[0].ErrMessage, tc.msg)
				}
			}
		}
		// kadm cannot send an unknown operation.
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, topic
		rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		rc.Name, rc.Op, rc.Value = "retention.ms", 9, kmsg.StringPtr("1")
		rr.Configs = append(rr.Configs, rc)
		req.Resources = append(req.Resources, rr)
		resp, err := req.RequestWith(ctx, clientAt(t, b, kmsg.IncrementalAlterConfigs, v))
		if err != nil {
			t.Fatal(err)
		}
		if r := resp.Resources[0]; r.ErrorCode != kerr.InvalidRequest.Code || r.ErrorMessage == nil || !strings.Contains(*r.ErrorMessage, "unknown operation 9") {
			t.Errorf("unknown operation: code %d, message %v", r.ErrorCode, r.ErrorMessage)
		}
		if got := topicConfigsNow(t, b, topic); !maps.Equal(got, steps[len(steps)-1].want) {
			t.Fatalf("failed alters changed the configs: %v", got)
		}
	})

	// The change reaches the open logs: retention.ms=0 empties a
	// partition at the next maintenance pass.
	ctx := ctxT(t)
	prod := newClient(t, b, kgo.DefaultProduceTopic("incr-applied"))
	for i := 0; i < 3; i++ {
		if err := prod.ProduceSync(ctx, kgo.StringRecord("x")).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("0")}}, "incr-applied")
	if err != nil || rs[0].Err != nil {
		t.Fatalf("%v %+v", err, rs)
	}
	if _, err := b.Store().RunMaintenance(); err != nil {
		t.Fatal(err)
	}
	starts, err := adm.ListStartOffsets(ctx, "incr-applied")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := starts.Lookup("incr-applied", 0); o.Offset != 3 {
		t.Fatalf("start offset after retention.ms=0: %+v", o)
	}
}

func TestCreatePartitions(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	adm := kadm.NewClient(newClient(t, b))
	versions(t, kmsg.CreatePartitions, func(t *testing.T, v int16) {
		ctx := ctxT(t)
		topic := fmt.Sprintf("grow-v%d", v)
		mustCreateTopic(t, adm, topic, 1, nil)
		vadm := kadm.NewClient(clientAt(t, b, kmsg.CreatePartitions, v))
		count := func() int {
			d, err := b.Store().Topic(topic)
			if err != nil {
				t.Fatal(err)
			}
			return d.Partitions
		}

		rs, err := vadm.ValidateCreatePartitions(ctx, 2, topic)
		if err != nil || rs[topic].Err != nil {
			t.Fatalf("validate: %v %+v", err, rs)
		}
		if n := count(); n != 1 {
			t.Fatalf("validate_only added partitions: %d", n)
		}
		rs, err = vadm.CreatePartitions(ctx, 2, topic)
		if err != nil || rs[topic].Err != nil {
			t.Fatalf("create: %v %+v", err, rs)
		}
		if n := count(); n != 3 {
			t.Fatalf("%d partitions, want 3", n)
		}
		// The new partition takes records at once.
		prod := newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 2, Value: []byte("p2")}).FirstErr(); err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct {
			name  string
			set   int
			topic string
			want  *kerr.Error
		}{
			{"same count", 3, topic, kerr.InvalidPartitions},
			{"fewer", 2, topic, kerr.InvalidPartitions},
			{"too many", store.MaxPartitions + 1, topic, kerr.InvalidPartitions},
			{"unknown topic", 5, "no-such-topic", kerr.UnknownTopicOrPartition},
		} {
			for _, validate := range []bool{true, false} {
				update := vadm.UpdatePartitions
				if validate {
					update = vadm.ValidateUpdatePartitions
				}
				rs, err := update(ctx, tc.set, tc.topic)
				if err != nil {
					t.Fatal(err)
				}
				wantCode(t, fmt.Sprintf("%s (validate %v)", tc.name, validate), rs[tc.topic].Err, tc.want)
			}
		}
		if n := count(); n != 3 {
			t.Fatalf("failed requests changed the count to %d", n)
		}
	})

	// Manual assignments must name this broker alone; a topic named twice
	// is refused.
	ctx := ctxT(t)
	mustCreateTopic(t, adm, "assigned", 1, nil)
	node := b.Store().NodeID()
	for _, tc := range []struct {
		name   string
		assign [][]int32
		want   *kerr.Error
	}{
		{"other broker", [][]int32{{node + 1}}, kerr.InvalidReplicaAssignment},
		{"two replicas", [][]int32{{node, node + 1}}, kerr.InvalidReplicaAssignment},
		{"too few assignments", [][]int32{{node}}, kerr.InvalidReplicaAssignment},
		{"this broker", [][]int32{{node}, {node}}, nil},
	} {
		req := kmsg.NewPtrCreatePartitionsRequest()
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = "assigned", 3
		for _, a := range tc.assign {
			ra := kmsg.NewCreatePartitionsRequestTopicAssignment()
			ra.Replicas = a
			rt.Assignment = append(rt.Assignment, ra)
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, newClient(t, b))
		if err != nil {
			t.Fatal(err)
		}
		if got := kerr.ErrorForCode(resp.Topics[0].ErrorCode); !sameErr(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	req := kmsg.NewPtrCreatePartitionsRequest()
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = "assigned", 9
	req.Topics = append(req.Topics, rt, rt)
	resp, err := req.RequestWith(ctx, newClient(t, b))
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range resp.Topics {
		if rt.ErrorCode != kerr.InvalidRequest.Code {
			t.Errorf("topic named twice: code %d", rt.ErrorCode)
		}
	}
}

func TestDeleteRecords(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	adm := kadm.NewClient(newClient(t, b))
	versions(t, kmsg.DeleteRecords, func(t *testing.T, v int16) {
		ctx := ctxT(t)
		topic := fmt.Sprintf("trim-v%d", v)
		mustCreateTopic(t, adm, topic, 2, nil)
		prod := newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
		for i := 0; i < 10; i++ {
			if err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		vadm := kadm.NewClient(clientAt(t, b, kmsg.DeleteRecords, v))
		del := func(p int32, offset int64) kadm.DeleteRecordsResponse {
			t.Helper()
			os := kadm.Offsets{}
			os.Add(kadm.Offset{Topic: topic, Partition: p, At: offset})
			rs, err := vadm.DeleteRecords(ctx, os)
			if err != nil {
				t.Fatal(err)
			}
			r, ok := rs.Lookup(topic, p)
			if !ok {
				t.Fatalf("no answer for partition %d", p)
			}
			return r
		}
		for _, tc := range []struct {
			p      int32
			offset int64
			low    int64
			want   *kerr.Error
		}{
			{0, 4, 4, nil},
			{0, 2, 4, nil}, // below the start: nothing changes
			{0, 11, -1, kerr.OffsetOutOfRange},
			{0, -1, 10, nil}, // the high watermark
			{1, 0, 0, nil},   // an empty partition
		} {
			r := del(tc.p, tc.offset)
			if !sameErr(r.Err, tc.want) || r.LowWatermark != tc.low {
				t.Errorf("delete p%d before %d: low %d err %v, want %d %v", tc.p, tc.offset, r.LowWatermark, r.Err, tc.low, tc.want)
			}
		}
		starts, err := adm.ListStartOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := starts.Lookup(topic, 0); o.Offset != 10 {
			t.Fatalf("start offset %+v", o)
		}

		// kadm does not send partitions that metadata does not list.
		req := kmsg.NewPtrDeleteRecordsRequest()
		for _, name := range []string{topic, "no-such-topic"} {
			rt := kmsg.NewDeleteRecordsRequestTopic()
			rt.Topic = name
			rp := kmsg.NewDeleteRecordsRequestTopicPartition()
			rp.Partition = 5
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(ctx, clientAt(t, b, kmsg.DeleteRecords, v).Broker(int(b.Store().NodeID())))
		if err != nil {
			t.Fatal(err)
		}
		for _, rt := range resp.Topics {
			if p := rt.Partitions[0]; p.ErrorCode != kerr.UnknownTopicOrPartition.Code || p.LowWatermark != -1 {
				t.Errorf("%s partition 5: code %d, low watermark %d", rt.Topic, p.ErrorCode, p.LowWatermark)
			}
		}
	})

	// The coordinators' internal topics are not trimmed, nor grown.
	ctx0 := ctxT(t)
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = "__transaction_state"
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Offset = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx0, newClient(t, b).Broker(int(b.Store().NodeID())))
	if err != nil {
		t.Fatal(err)
	}
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != kerr.InvalidTopicException.Code {
		t.Errorf("delete records of an internal topic: code %d", p.ErrorCode)
	}
	cpReq := kmsg.NewPtrCreatePartitionsRequest()
	cpt := kmsg.NewCreatePartitionsRequestTopic()
	cpt.Topic, cpt.Count = "__consumer_offsets", 60
	cpReq.Topics = append(cpReq.Topics, cpt)
	cpResp, err := cpReq.RequestWith(ctx0, newClient(t, b))
	if err != nil {
		t.Fatal(err)
	}
	if c := cpResp.Topics[0].ErrorCode; c != kerr.InvalidRequest.Code {
		t.Errorf("create partitions of an internal topic: code %d", c)
	}

	// A consumer from the start begins at the new low watermark.
	ctx := ctxT(t)
	prod := newClient(t, b, kgo.DefaultProduceTopic("trim-read"))
	for i := 0; i < 5; i++ {
		if err := prod.ProduceSync(ctx, kgo.StringRecord(strconv.Itoa(i))).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	os := kadm.Offsets{}
	os.Add(kadm.Offset{Topic: "trim-read", Partition: 0, At: 3})
	if rs, err := adm.DeleteRecords(ctx, os); err != nil || rs.Error() != nil {
		t.Fatalf("%v %v", err, rs.Error())
	}
	cons := newClient(t, b, kgo.ConsumeTopics("trim-read"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	fs := cons.PollFetches(ctx)
	if err := fs.Err0(); err != nil {
		t.Fatal(err)
	}
	if recs := fs.Records(); len(recs) == 0 || recs[0].Offset != 3 || string(recs[0].Value) != "3" {
		t.Fatalf("first record after DeleteRecords: %+v", recs)
	}
}

func TestDescribeCluster(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	versions(t, kmsg.DescribeCluster, func(t *testing.T, v int16) {
		cl := clientAt(t, b, kmsg.DescribeCluster, v)
		types := []int8{1}
		if v >= 1 {
			types = []int8{1, 2, 3}
		}
		for _, typ := range types {
			req := kmsg.NewPtrDescribeClusterRequest()
			req.EndpointType = typ
			req.IncludeClusterAuthorizedOperations = true
			resp, err := req.RequestWith(ctxT(t), cl)
			if err != nil {
				t.Fatal(err)
			}
			if typ == 3 {
				if resp.ErrorCode != kerr.UnsupportedEndpointType.Code {
					t.Fatalf("endpoint type 3: code %d", resp.ErrorCode)
				}
				continue
			}
			if resp.ErrorCode != 0 {
				t.Fatalf("endpoint type %d: code %d %v", typ, resp.ErrorCode, resp.ErrorMessage)
			}
			host, port := b.hostPort()
			if resp.ClusterID != b.Store().ClusterID().String() || resp.ControllerID != b.Store().NodeID() ||
				len(resp.Brokers) != 1 || resp.Brokers[0].Host != host || resp.Brokers[0].Port != port || resp.Brokers[0].NodeID != b.Store().NodeID() {
				t.Fatalf("endpoint type %d: %+v", typ, resp)
			}
			if v >= 1 && resp.EndpointType != typ {
				t.Errorf("endpoint type %d answered as %d", typ, resp.EndpointType)
			}
			if resp.ClusterAuthorizedOperations&(1<<kmsg.ACLOperationDescribe) == 0 {
				t.Errorf("authorized operations %b lack DESCRIBE", resp.ClusterAuthorizedOperations)
			}
		}
	})
}
