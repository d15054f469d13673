package compattest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/broker"
)

// Issue 12: seed 004's kafka-python producer, pinned to api_version=(0,
// 10), sent Produce v2 with a magic 1 message set, which the broker did not
// serve (it closed the connection: "socket disconnected"). These tests
// drive producers at old protocol versions: kafka-python at (0, 8, 2),
// (0, 9) and (0, 10), librdkafka (kcat) with broker.version.fallback, with
// every codec, and seed 004's own producer and consumer.

var (
	pyModsMu sync.Mutex
	pyMods   = map[string]error{}
)

// needPyModules is needPython plus the Python modules given (the codec
// libraries of kafka-python, msgpack), which Debian packages provide.
func needPyModules(t *testing.T, mods ...string) {
	t.Helper()
	needPython(t)
	for _, m := range mods {
		pyModsMu.Lock()
		err, ok := pyMods[m]
		if !ok {
			out, cerr := exec.Command(python(), "-c", "import "+m).CombinedOutput()
			if cerr != nil {
				err = fmt.Errorf("%s -c 'import %s': %v: %s (Debian: python3-msgpack python3-snappy python3-lz4 python3-xxhash)",
					python(), m, cerr, bytes.TrimSpace(out))
			}
			pyMods[m] = err
		}
		pyModsMu.Unlock()
		if err != nil {
			missing(t, err)
		}
	}
}

// readRecords reads every record of topic with franz-go (Fetch v12: the
// batches as stored), in offset order per partition.
func readRecords(t *testing.T, b *broker.Broker, topic string) []*kgo.Record {
	t.Helper()
	n := 0
	for _, end := range endOffsets(t, b, topic)[topic] {
		n += int(end)
	}
	var out []*kgo.Record
	if n == 0 {
		return out
	}
	cl := newClient(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := ctxT(t)
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("read back %s: %v (have %d of %d)", topic, err, len(out), n)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// msgpackStr is msgpack's encoding of a string (msgpack.packb(s)).
func msgpackStr(s string) []byte {
	switch n := len(s); {
	case n < 32:
		return append([]byte{0xa0 | byte(n)}, s...)
	case n < 256:
		return append([]byte{0xd9, byte(n)}, s...)
	default:
		return append([]byte{0xda, byte(n >> 8), byte(n)}, s...)
	}
}

// TestKafkaPythonSeed004: seed 004's consumer, with exactly its settings
// (auto_offset_reset='earliest', bootstrap_servers=[...],
// api_version=(0, 10), consumer_timeout_ms=1000,
// value_deserializer=msgpack.loads) and its loop (json.loads of the
// value, an alert above 200 calories, sleep(3) after each message), reads
// what the producer of the tutorial it follows wrote with
// api_version=(0, 10): Produce v2, magic 1 (issue 12).
func TestKafkaPythonSeed004(t *testing.T) {
	t.Parallel()
	needPyModules(t, "msgpack")
	b := startBroker(t)
	topic := name(t, "parsed_recipes")
	type recipe struct {
		Title    string `json:"title"`
		Calories int    `json:"calories"`
	}
	recipes := []recipe{{"Chicken Curry", 250}, {"Green Salad", 150}, {"Lasagna al Forno", 320}}
	before := time.Now().UnixMilli()
	var prod struct {
		Sent [][]any `json:"sent"`
	}
	runPy(t, b, "seed004.py", "produce", map[string]any{"topic": topic, "recipes": recipes}, &prod)
	after := time.Now().UnixMilli()
	if len(prod.Sent) != len(recipes) {
		t.Fatalf("sent %v", prod.Sent)
	}
	stamps := make([]int64, len(recipes))
	for i, s := range prod.Sent {
		stamps[i] = int64(s[3].(float64))
		if s[0] != topic || s[1] != 0.0 || s[2] != float64(i) || stamps[i] < before || stamps[i] > after {
			t.Errorf("RecordMetadata of send %d: %v, want [%s 0 %d <now>]", i, s, topic, i)
		}
	}

	// Stored as the producer sent it: msgpack of the JSON text, its
	// CreateTime kept.
	got := readRecords(t, b, topic)
	if len(got) != len(recipes) {
		t.Fatalf("stored %d records, want %d", len(got), len(recipes))
	}
	for i, r := range got {
		js, _ := json.Marshal(recipes[i])
		// Python's json.dumps puts a space after ':' and ','.
		text := strings.NewReplacer(`":`, `": `, `,"`, `, "`).Replace(string(js))
		if string(r.Key) != "parsed" || !bytes.Equal(r.Value, msgpackStr(text)) || r.Offset != int64(i) ||
			r.Timestamp.UnixMilli() != stamps[i] || r.Attrs.TimestampType() != 0 {
			t.Errorf("stored record %d: key %q value %q offset %d timestamp %d (type %d); want value %q, CreateTime %d",
				i, r.Key, r.Value, r.Offset, r.Timestamp.UnixMilli(), r.Attrs.TimestampType(), msgpackStr(text), stamps[i])
		}
	}

	var cons struct {
		Alerts [][]any `json:"alerts"`
	}
	runPy(t, b, "seed004.py", "consume", map[string]any{"topic": topic}, &cons)
	equal(t, "alerts", cons.Alerts, [][]any{
		{"Chicken Curry", 250.0, 0.0, float64(stamps[0]), 0.0},
		{"Lasagna al Forno", 320.0, 2.0, float64(stamps[2]), 0.0},
	})
}

// TestKafkaPythonMsgpack: the first post's "encode objects via msgpack"
// producer (value_serializer=msgpack.dumps) and "consume msgpack"
// consumer (value_deserializer=msgpack.unpackb).
func TestKafkaPythonMsgpack(t *testing.T) {
	t.Parallel()
	needPyModules(t, "msgpack")
	b := startBroker(t)
	topic := name(t, "msgpack-topic")
	var sent struct {
		Sent []any `json:"sent"`
	}
	runPy(t, b, "kp_produce.py", "msgpack", map[string]any{"topic": topic}, &sent)
	equal(t, "RecordMetadata", sent.Sent, []any{topic, 0.0, 0.0})
	// msgpack of {'key': 'value'}: a fixmap of one pair of fixstrs.
	want := append(append([]byte{0x81}, msgpackStr("key")...), msgpackStr("value")...)
	if got := readRecords(t, b, topic); len(got) != 1 || !bytes.Equal(got[0].Value, want) {
		t.Fatalf("stored %v, want one record of value %q", got, want)
	}
	var res kpConsumeResult
	runPy(t, b, "kp_consume.py", "iterate", map[string]any{"topic": topic, "n": 1, "timeout_ms": 1000, "msgpack": true}, &res)
	sameRecs(t, "consumed", res.Records, []rec{{topic, 0, 0, nil, str(`{"key": "value"}`), [][]string{}}})
}

// pyCodecs are kafka-python's compression types and the modules each
// needs (lz4 for magic 0 also needs xxhash, for Kafka 0.8's framing).
var pyCodecs = []struct {
	name string
	id   uint8
	mods []string
}{
	{"none", 0, nil},
	{"gzip", 1, nil},
	{"snappy", 2, []string{"snappy"}},
	{"lz4", 3, []string{"lz4.frame", "xxhash"}},
}

// TestKafkaPythonOldProducers: KafkaProducer with api_version (0, 8, 2)
// and (0, 9) (Produce v0 and v1, magic 0 message sets) and (0, 10)
// (Produce v2, magic 1), with compression_type None, gzip, snappy and lz4:
// the records are stored with their keys, values, nulls and codec
// (magic 1: their CreateTime; magic 0, which has no timestamp: the
// broker's time, as LogAppendTime), and a consumer pinned to the same
// api_version reads them back.
func TestKafkaPythonOldProducers(t *testing.T) {
	t.Parallel()
	for _, api := range []string{"0.8.2", "0.9", "0.10"} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			var mods []string
			for _, c := range pyCodecs {
				mods = append(mods, c.mods...)
			}
			needPyModules(t, mods...)
			b := startBroker(t)
			topics := map[string]string{}
			for _, c := range pyCodecs {
				topics[c.name] = name(t, c.name)
			}
			const n = 5
			base := time.Now().Add(-time.Hour).UnixMilli()
			before := time.Now().UnixMilli()
			type consumed struct {
				rec
				Timestamp     *int64 `json:"timestamp"`
				TimestampType *int   `json:"timestamp_type"`
			}
			var res map[string]struct {
				Sent     [][]int64  `json:"sent"`
				Consumed []consumed `json:"consumed"`
			}
			runPy(t, b, "kp_old.py", api, map[string]any{"topics": topics, "n": n, "ts": base}, &res)
			after := time.Now().UnixMilli()
			magic0 := api != "0.10"
			for _, c := range pyCodecs {
				topic := topics[c.name]
				r := res[c.name]
				var want []rec
				for i := range n {
					w := rec{topic, 0, int64(i), str(fmt.Sprintf("k%d", i)), str(fmt.Sprintf("v%d", i)), [][]string{}}
					switch i {
					case 1:
						w.Key = nil
					case 2:
						w.Value = nil
					}
					want = append(want, w)
				}
				stored := readRecords(t, b, topic)
				sameRecs(t, c.name+": stored", fromKgos(stored), want)
				for i, s := range stored {
					ts := s.Timestamp.UnixMilli()
					if s.Attrs.CompressionType() != c.id {
						t.Errorf("%s: record %d stored with codec %d", c.name, i, s.Attrs.CompressionType())
					}
					if magic0 {
						if ts < before || ts > after || s.Attrs.TimestampType() != 1 {
							t.Errorf("%s: record %d: timestamp %d (type %d), want LogAppendTime in [%d, %d]", c.name, i, ts, s.Attrs.TimestampType(), before, after)
						}
					} else if ts != base+int64(i) || s.Attrs.TimestampType() != 0 {
						t.Errorf("%s: record %d: timestamp %d (type %d), want CreateTime %d", c.name, i, ts, s.Attrs.TimestampType(), base+int64(i))
					}
				}
				var got []rec
				for i, cr := range r.Consumed {
					got = append(got, cr.rec)
					// Magic 0 messages have no timestamp: kafka-python
					// gives None (and no type).
					var wantTS *int64
					var wantType *int
					if !magic0 {
						ts, typ := base+int64(i), 0
						wantTS, wantType = &ts, &typ
					}
					equal(t, fmt.Sprintf("%s: consumed record %d: timestamp, type", c.name, i),
						[]any{cr.Timestamp, cr.TimestampType}, []any{wantTS, wantType})
				}
				sameRecs(t, c.name+": consumed with api_version "+api, got, want)
				for i, s := range r.Sent {
					wantTS := int64(-1)
					if !magic0 {
						wantTS = base + int64(i)
					}
					if len(s) != 2 || s[0] != int64(i) || s[1] != wantTS {
						t.Errorf("%s: RecordMetadata of send %d: offset, timestamp %v; want %d, %d", c.name, i, s, i, wantTS)
					}
				}
			}
		})
	}
}

// TestKcatOldProtocolVersions: librdkafka (kcat) without ApiVersions
// (api.version.request=false) at broker.version.fallback 0.8.2.2 (Produce
// and Fetch v0, magic 0), 0.9.0.1 (v1, magic 0) and 0.10.0.1 (v2, magic
// 1), with -z none, gzip, snappy and lz4: the records are stored as sent
// and kcat at the same version reads them back.
func TestKcatOldProtocolVersions(t *testing.T) {
	t.Parallel()
	needKcat(t)
	b := startBroker(t)
	codecs := []string{"none", "gzip", "snappy", "lz4"}
	for _, fallback := range []string{"0.8.2.2", "0.9.0.1", "0.10.0.1"} {
		for ci, codec := range codecs {
			topic := name(t, fallback+"-"+codec)
			createTopic(t, b, topic, 1)
			old := []string{"-X", "api.version.request=false", "-X", "broker.version.fallback=" + fallback}
			// Values long enough for the codecs to shrink them:
			// librdkafka sends a set uncompressed when compressing
			// does not make it smaller.
			long := strings.Repeat("compressible ", 20)
			kcat(t, b, fmt.Sprintf("k0:v0 %s\nk1:v1 %[1]s\n:v2 %[1]s\nk3:\n", long), append(old, "-P", "-t", topic, "-K:", "-z", codec)...)
			stored := readRecords(t, b, topic)
			sameRecs(t, fallback+" "+codec+": stored", fromKgos(stored), []rec{
				{topic, 0, 0, str("k0"), str("v0 " + long), [][]string{}},
				{topic, 0, 1, str("k1"), str("v1 " + long), [][]string{}},
				{topic, 0, 2, str(""), str("v2 " + long), [][]string{}},
				{topic, 0, 3, str("k3"), str(""), [][]string{}},
			})
			for i, s := range stored {
				if s.Attrs.CompressionType() != uint8(ci) {
					t.Errorf("%s %s: record %d stored with codec %d", fallback, codec, i, s.Attrs.CompressionType())
				}
				if lat := s.Attrs.TimestampType() == 1; lat != (fallback != "0.10.0.1") {
					t.Errorf("%s %s: record %d: timestamp type %d", fallback, codec, i, s.Attrs.TimestampType())
				}
			}
			got := kcat(t, b, "", append(old, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", `%o %k=%s\n`)...)
			equal(t, fallback+" "+codec+": kcat -C", got, fmt.Sprintf("0 k0=v0 %s\n1 k1=v1 %[1]s\n2 =v2 %[1]s\n3 k3=\n", long))
		}
	}
}

// TestKcatSeed001ClientProperties: the producer.properties and
// consumer.properties of the English post (seed 001), the configuration of
// Kafka 0.8's Scala clients, with librdkafka, which knows the same names:
// metadata.broker.list, request.required.acks 0 / 1 / -1,
// compression.codec none / gzip / snappy, message.send.max.retries=3,
// retry.backoff.ms=100, request.timeout.ms=10000, send.buffer.bytes
// (socket.send.buffer.bytes)=100*1024,
// topic.metadata.refresh.interval.ms=600*1000, client.id,
// queue.buffering.max.ms=5000, queue.buffering.max.messages=10000,
// batch.num.messages=200, at the protocol of Kafka 0.8 (Produce v0, magic
// 0); then group.id, client.id, auto.offset.reset smallest / largest,
// socket.timeout.ms=30*1000, socket.receive.buffer.bytes=64*1024,
// fetch.message.max.bytes=1024*1024, auto.commit.enable=true,
// auto.commit.interval.ms=60*1000, fetch.min.bytes=1,
// fetch.wait.max.ms=100 for a group consumer (kcat -G).
func TestKcatSeed001ClientProperties(t *testing.T) {
	t.Parallel()
	needKcat(t)
	b := startBroker(t)
	topic, group := name(t, "test"), name(t, "group")
	createTopic(t, b, topic, 3)
	// One producer per partition, at the same time: each lingers for the
	// seed's queue.buffering.max.ms=5000 before it sends.
	configs := []struct{ acks, codec string }{{"0", "none"}, {"1", "gzip"}, {"-1", "snappy"}}
	var want []rec
	errs := make([]error, len(configs))
	var wg sync.WaitGroup
	for i, c := range configs {
		want = append(want,
			rec{topic, int32(i), 0, str("k0"), str(fmt.Sprintf("acks=%s codec=%s %s", c.acks, c.codec, strings.Repeat("x", 100))), [][]string{}},
			rec{topic, int32(i), 1, str("k1"), str("second " + strings.Repeat("y", 100)), [][]string{}})
		cmd := exec.CommandContext(ctxT(t), "kcat", "-P", "-t", topic, "-p", fmt.Sprint(i), "-K:",
			"-X", "metadata.broker.list="+b.Addr(),
			"-X", "request.required.acks="+c.acks,
			"-X", "compression.codec="+c.codec,
			"-X", "message.send.max.retries=3",
			"-X", "retry.backoff.ms=100",
			"-X", "request.timeout.ms=10000",
			"-X", "socket.send.buffer.bytes=102400",
			"-X", "topic.metadata.refresh.interval.ms=600000",
			"-X", "client.id=seed001-producer",
			"-X", "queue.buffering.max.ms=5000",
			"-X", "queue.buffering.max.messages=10000",
			"-X", "batch.num.messages=200",
			"-X", "api.version.request=false", "-X", "broker.version.fallback=0.8.2.2")
		cmd.Stdin = strings.NewReader(fmt.Sprintf("k0:%s\nk1:%s\n", *want[2*i].Value, *want[2*i+1].Value))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("kcat -P acks=%s codec=%s: %v\n%s", c.acks, c.codec, err, tail(out, 8000))
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// acks=0 gets no answer: kcat may be gone before the broker appended.
	for deadline := time.Now().Add(30 * time.Second); endOffsets(t, b, topic)[topic][0] < 2; {
		if time.Now().After(deadline) {
			t.Fatal("acks=0: the records never arrived")
		}
		time.Sleep(10 * time.Millisecond) // polling a condition
	}
	stored := readRecords(t, b, topic)
	for _, r := range stored {
		if codec := r.Attrs.CompressionType(); codec != uint8(r.Partition) || r.Attrs.TimestampType() != 1 {
			t.Errorf("partition %d offset %d: codec %d, timestamp type %d; want codec %d, LogAppendTime (magic 0)",
				r.Partition, r.Offset, codec, r.Attrs.TimestampType(), r.Partition)
		}
	}
	sameRecs(t, "produced with the seed's producer.properties", readAll(t, b, topic), want)

	consumer := func(group, reset string) string {
		return kcat(t, b, "", "-G", group, topic, "-q", "-e", "-f", `%p %o %k=%s\n`,
			"-X", "client.id="+group,
			"-X", "auto.offset.reset="+reset,
			"-X", "socket.timeout.ms=30000",
			"-X", "socket.receive.buffer.bytes=65536",
			"-X", "fetch.message.max.bytes=1048576",
			"-X", "auto.commit.enable=true",
			"-X", "auto.commit.interval.ms=60000",
			"-X", "fetch.min.bytes=1",
			"-X", "fetch.wait.max.ms=100")
	}
	var all []rec
	for _, l := range strings.Split(strings.TrimSpace(consumer(group, "smallest")), "\n") {
		var r rec
		var k, v string
		if _, err := fmt.Sscanf(l, "%d %d", &r.Partition, &r.Offset); err != nil {
			t.Fatalf("kcat -G line %q: %v", l, err)
		}
		k, v, _ = strings.Cut(strings.SplitN(l, " ", 3)[2], "=")
		r.Topic, r.Key, r.Value, r.Headers = topic, &k, &v, [][]string{}
		all = append(all, r)
	}
	sameRecs(t, "auto.offset.reset=smallest", all, want)
	equal(t, "committed on close", committed(t, b, group), map[string]map[int32]int64{topic: {0: 2, 1: 2, 2: 2}})
	equal(t, "auto.offset.reset=largest", consumer(group+"-largest", "largest"), "")
}
