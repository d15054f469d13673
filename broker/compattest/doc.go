// Package compattest drives real Kafka clients against an embedded runnel
// broker: every client scenario of the user tutorials that runnel must
// serve unchanged (blog posts on confluent-kafka-python, kafka-python,
// kcat and Kafka's console tools). It holds tests only.
//
// # Clients
//
// The Debian 12 packages, which CI installs (.ci/run):
//
//	kcat 1.7.1 (kcat 1.7.1-2, on librdkafka 2.0.2)
//	confluent-kafka-python 1.7.0 (python3-confluent-kafka 1.7.0-4) on librdkafka 2.0.2 (librdkafka1 2.0.2-1)
//	kafka-python 2.0.2 (python3-kafka 2.0.2-3), with python3-msgpack 1.0.3 (the
//	seeds' msgpack serializers), python3-snappy 0.5.3, python3-lz4 4.0.2 and
//	python3-xxhash 3.2.0 (its snappy and lz4 codecs; xxhash for lz4 in magic 0)
//
// The Python modules are seen only by Debian's /usr/bin/python3, which the
// tests run (RUNNEL_TEST_PYTHON overrides it). A missing client or
// module fails the tests when CI=true and skips them, loudly, otherwise. kafka-python
// detects the broker's version from ApiVersions (it settles on 2.4.0).
//
// # How a test runs
//
// Each test starts its own broker (broker.New in t.TempDir(), default
// configuration but where a test says otherwise), creates and fills its
// topics with franz-go, runs one client (kcat, or a script of testdata/
// as /usr/bin/python3 SCRIPT MODE BOOTSTRAP 'JSON-ARGS', which prints one
// JSON result) under a timeout, then checks the result and the broker's
// side (records read back, committed offsets fetched) with franz-go.
// Waits poll for a condition under a deadline; nothing depends on timing. Tests run in
// parallel (TestMain raises -test.parallel to 8: they mostly wait, for
// the 3s group.initial.rebalance.delay.ms of every new group among
// others); the package takes about 30s (TestKafkaPythonSeed004 sleeps 3s after each
// of its 3 messages, as the seed does). RUNNEL_COMPAT_DEBUG=1 makes the
// scripts log the clients' debug output (librdkafka debug
// protocol,broker,cgrp,topic,fetch; kafka-python logging at DEBUG), shown
// when a test fails.
//
// # Scenarios
//
// Seeds: [zh-ck1] 000 "Kafka介绍及confluent-kafka的使用"; [en] 001 "kafka
// practical tutorial (python operation kafka)"; [ja] 002 "python操作kafka"
// (kafka-python); [zh-ck2] 003 "Python Kafka客户端confluent-kafka学习总结";
// [zh-cli] 004 "流式大数据处理 Kafka" (console tools, kafka-python pinned to
// api_version=(0, 10)). The files are ../../../shared/seeds/NNN_*.txt.
//
//	seed          scenario                                                   test
//	------------  ---------------------------------------------------------  -------------------------------------
//	zh-ck2        Producer(client.id=hostname): produce() without and with   TestConfluentProduceSeed
//	              callback=acked, poll(1), flush(); topic auto-created
//	zh-ck2        keyed produce() with headers, a callback each, value=None  TestConfluentProduceKeyed
//	              (tombstone); a key keeps its partition
//	zh-ck1        Consumer: group.id, enable.auto.commit,                    TestConfluentGroupAutoCommit
//	              default.topic.config {auto.offset.reset: smallest};
//	              subscribe, poll(1) loop, msg.partition()/offset();
//	              close() commits
//	zh-ck2        enable.auto.commit false + commit(asynchronous=False)      TestConfluentGroupSyncCommit
//	              every MIN_COMMIT_COUNT; at-most-once commit per message;
//	              the next consumer resumes at the committed offsets;
//	              _PARTITION_EOF events (enable.partition.eof)
//	zh-ck2        commit(asynchronous=True) + on_commit callback             TestConfluentGroupAsyncCommit
//	zh-ck1        commit(offsets=[TopicPartition(t, p, off)...]),            TestConfluentCommitOffsets
//	              commit(message=msg), committed(topicPartitionList)
//	zh-ck2        auto.offset.reset smallest/earliest/largest/latest, top    TestConfluentOffsetReset
//	zh-ck1        level and in default.topic.config
//	en            at most once: enable.auto.commit + small                   TestConfluentAutoCommitInterval
//	              auto.commit.interval.ms (commits while running)
//	(brief)       subscribe(['^topic.*']) regex subscription                 TestConfluentRegexSubscribe
//	(brief)       assign() at an offset / OFFSET_BEGINNING, seek(),          TestConfluentAssignSeekPause
//	              position(), pause()/resume(), get_watermark_offsets(),
//	              offsets_for_times()
//	zh-cli, en    kafka-topics.sh --create (partitions, RF, --config         TestConfluentAdmin
//	              max.message.bytes=64000 --config flush.messages=1),
//	              --list, --describe, --alter --config, --deleteConfig,
//	              --delete: AdminClient create_topics (again:
//	              TOPIC_ALREADY_EXISTS; RF 2: INVALID_REPLICATION_FACTOR as
//	              on a one-broker Kafka), list_topics, describe_configs,
//	              alter_configs, delete_topics
//	en            KafkaProducer: send().get(timeout=10) RecordMetadata,      TestKafkaPythonProduce
//	              keyed send, json value_serializer, 100 async sends,
//	              add_callback/add_errback, flush(), retries=5, headers
//	ja            json value_serializer producer (non-ASCII), `for msg in    TestKafkaPythonJSON
//	              consumer` printing topic/partition/offset/key/value;
//	en            value_deserializer=json.loads, consumer_timeout_ms
//	en, zh-cli    KafkaConsumer iteration, auto_offset_reset='earliest',     TestKafkaPythonIterate
//	              consumer_timeout_ms (StopIteration), no group
//	zh-cli        KafkaConsumer(api_version=(0, 10), consumer_timeout_ms,    TestKafkaPythonOldAPIVersion
//	              value_deserializer)
//	zh-cli        the seed's consumer verbatim (msgpack.loads, json.loads,   TestKafkaPythonSeed004
//	              alerts, sleep(3)) after its tutorial's producer at
//	              api_version=(0, 10): Produce v2, magic 1 (issue 12)
//	en            value_serializer=msgpack.dumps,                            TestKafkaPythonMsgpack
//	              value_deserializer=msgpack.unpackb
//	(issue 12)    KafkaProducer api_version (0, 8, 2), (0, 9), (0, 10) x     TestKafkaPythonOldProducers
//	              compression_type None/gzip/snappy/lz4, read back at
//	              the same api_version
//	en            producer.properties / consumer.properties of Kafka 0.8's   TestKcatSeed001ClientProperties
//	              Scala clients, with librdkafka's same-named properties
//	(issue 12)    librdkafka broker.version.fallback 0.8.2.2 / 0.9.0.1 /     TestKcatOldProtocolVersions
//	              0.10.0.1 (api.version.request=false) x -z codecs
//	en            KafkaConsumer('my-topic', group_id='my-group'): auto       TestKafkaPythonGroupAutoCommit
//	              commit; the next run resumes
//	en            enable_auto_commit=False: commit(), commit(offsets=        TestKafkaPythonManualCommit
//	              {tp: OffsetAndMetadata}), commit_async(callback),
//	              committed()
//	en            exactly once: offsets stored outside Kafka, a              TestKafkaPythonRebalanceListener
//	              ConsumerRebalanceListener seeking on assignment
//	en #5         partitions_for_topic, topics, subscription, assignment,    TestKafkaPythonSeek
//	              beginning_offsets, seek(tp, 5); end_offsets,
//	              offsets_for_times
//	en #6, #7     subscribe(topics=('test','test0')), position() (latest),   TestKafkaPythonPosition
//	              poll(timeout_ms=5)
//	en #8         pause(tp), paused(), resume(tp)                            TestKafkaPythonPauseResume
//	en            subscribe(pattern='^awesome.*'), with and without a group  TestKafkaPythonPattern
//	ja, en        KafkaAdminClient(client_id=...).create_topics(6            TestKafkaPythonAdmin
//	              partitions; its replication_factor=2 raises
//	              InvalidReplicationFactorError as on a one-broker Kafka),
//	              list_topics(), KafkaConsumer.topics(), describe_configs,
//	              alter_configs, list_consumer_groups,
//	              list_consumer_group_offsets, delete_topics; raw
//	              KafkaClient + CreateTopicsRequest_v0 to the controller
//	              (0, then 36 TOPIC_ALREADY_EXISTS)
//	en, zh-ck1    two consumers in one group split the partitions (each     TestGroupSplitPartitions
//	              record reaches the partition's holder), confluent and
//	              kafka-python, with the default initial rebalance delay
//	              and with none (the second join rebalances)
//	zh-cli, en    kafka-console-producer / kafka-console-consumer            TestKcatConsoleProduceConsume
//	              --from-beginning: kcat -P -K: -H, -C -o beginning / N /
//	              -N / end, -e, -c, -f, -J
//	zh-cli        kafka-console-consumer without --from-beginning: kcat -o   TestKcatConsumeFromNow
//	              end waits for new records
//	zh-cli, en    kafka-topics.sh --list / --describe: kcat -L, -L -J        TestKcatMetadata
//	(brief)       kcat -G group mode: commits, resumes                       TestKcatGroup
//	(brief)       kcat -Q offsets by timestamp, -1 and -2                    TestKcatQueryOffsets
//
// Kafka's console tools (kafka-topics.sh, kafka-console-*.sh) need a JVM
// and Kafka's distribution, which are not installed here: their scenarios
// run with kcat and the admin clients, over the same requests.
//
// Not run as written, whatever the broker: the Japanese post's producer
// without flush(): kafka-python 2.0.2 closes producers at exit with
// timeout 0 and drops what is unsent, against Kafka too, so the test
// flushes.
//
// # sarama
//
// IBM/sarama, the other Go client (a test dependency), runs in
// sarama_test.go at its default protocol version (2.8.0), 2.1.0 and 3.0.0:
// synchronous produce with exact offsets, a consumer group whose commits
// the broker then holds, and a partition consumer.
//
// # Old protocol versions
//
// A client pinned to an old api_version speaks the protocol of that Kafka:
// kafka-python 2.0.2 with api_version=(0, 10) (seed 004) produces with
// Produce v2 and magic 1 message sets and fetches with Fetch v2; with
// (0, 9) or (0, 8, 2), Produce v1 / v0 with magic 0 and Fetch v1 / v0;
// librdkafka with api.version.request=false and broker.version.fallback
// alike. The broker converts their message sets, compressed ones
// included, to v2 batches on produce (broker/00_produce.go) and its
// batches down to magic 0 / 1 for Fetch v0-v3 (broker/01_fetch.go), as
// Kafka 3.x does (Kafka 4.0 dropped those versions, KIP-896). Issue 12 was
// seed 004's producer failing with "socket disconnected" before Produce
// v0-v2 were served; TestKafkaPythonSeed004, TestKafkaPythonOldProducers
// and TestKcatOldProtocolVersions fail without them.
//
// # Seed settings
//
// Every client setting and call the seeds use, with the test that runs it
// (C: confluent-kafka, P: kafka-python, K: kcat, A: AdminClient of either).
// Settings are the seeds' values unless said otherwise.
//
// 000 zh-ck1 (confluent-kafka Consumer):
//
//	'bootstrap.servers': 'Ip1,Ip2' (two addresses)        C TestConfluentGroupAutoCommit (the broker twice)
//	'group.id', 'enable.auto.commit': True                C TestConfluentGroupAutoCommit
//	'default.topic.config': {'auto.offset.reset':         C TestConfluentGroupAutoCommit, TestConfluentOffsetReset
//	    'smallest'}
//	subscribe([t]), poll(1), msg.error(), value(),        C TestConfluentGroupAutoCommit
//	    partition(), offset()
//	enable.auto.commit False to re-read from the start    C TestConfluentGroupSyncCommit, TestConfluentOffsetReset
//	TopicPartition(t, partition=p, offset=o),             C TestConfluentCommitOffsets (commits made synchronous,
//	    commit(offsets=[...]), commit(message=msg),          so that committed() cannot overtake them)
//	    committed([...])
//
// 001 en (kafka-python, console tools, Kafka 0.8 client configuration):
//
//	kafka-topics.sh --create --replication-factor 1      A TestConfluentAdmin, TestKafkaPythonAdmin; K TestKcatMetadata
//	    --partitions 1, --list, --delete
//	kafka-console-consumer.sh --from-beginning,           K TestKcatConsoleProduceConsume
//	    kafka-console-producer.sh --broker-list
//	kafka-topics.sh --config max.message.bytes=64000      A TestConfluentAdmin
//	    --config flush.messages=1, --alter --config
//	    max.message.bytes=128000, --deleteConfig
//	KafkaProducer(bootstrap_servers=[...]),               P TestKafkaPythonProduce
//	    send().get(timeout=10), RecordMetadata topic/
//	    partition/offset, key=b'foo', json
//	    value_serializer, 100 async sends, add_callback/
//	    add_errback, flush(), retries=5
//	KafkaProducer(value_serializer=msgpack.dumps)         P TestKafkaPythonMsgpack
//	KafkaConsumer('test', bootstrap_servers=[...]),       P TestKafkaPythonIterate, TestKafkaPythonPosition
//	    `for message in consumer`
//	group_id='my-group' (auto commit; two consumers)      P TestKafkaPythonGroupAutoCommit, TestGroupSplitPartitions
//	auto_offset_reset='earliest'                          P TestKafkaPythonIterate
//	partitions_for_topic, topics, subscription,           P TestKafkaPythonSeek
//	    assignment, beginning_offsets, seek(tp, 5)
//	subscribe(topics=('test','test0')), position(),       P TestKafkaPythonPosition
//	    poll(timeout_ms=5)
//	pause(tp), paused(), resume(tp)                       P TestKafkaPythonPauseResume
//	auto_offset_reset='earliest', enable_auto_commit=     P TestKafkaPythonManualCommit
//	    False; commit(), commitSync-style at least once
//	value_deserializer=json.loads(m.decode('ascii'))      P TestKafkaPythonJSON
//	value_deserializer=msgpack.unpackb                    P TestKafkaPythonMsgpack
//	consumer_timeout_ms=1000 (StopIteration)              P TestKafkaPythonIterate
//	subscribe(pattern='^awesome.*')                       P TestKafkaPythonPattern
//	at most once: enable.auto.commit, small               C TestConfluentAutoCommitInterval
//	    auto.commit.interval.ms
//	exactly once: offsets outside Kafka,                  P TestKafkaPythonRebalanceListener
//	    ConsumerRebalanceListener, seek
//	KafkaClient + admin.CreateTopicsRequest_v0 to the     P TestKafkaPythonAdmin
//	    controller (0, then 36)
//	producer.properties: metadata.broker.list,            K TestKcatSeed001ClientProperties (at Kafka 0.8's
//	    request.required.acks 0/1/-1, compression.codec      protocol: Produce v0, magic 0)
//	    none/gzip/snappy, message.send.max.retries=3,
//	    retry.backoff.ms=100, request.timeout.ms=10000,
//	    send.buffer.bytes=100*1024 (librdkafka:
//	    socket.send.buffer.bytes), topic.metadata.
//	    refresh.interval.ms=600*1000, client.id,
//	    queue.buffering.max.ms=5000, queue.buffering.
//	    max.messages=10000, batch.num.messages=200
//	consumer.properties: group.id, client.id,             K TestKcatSeed001ClientProperties
//	    auto.offset.reset smallest/largest,
//	    socket.timeout.ms=30*1000, socket.receive.buffer.
//	    bytes=64*1024, fetch.message.max.bytes=1024*1024,
//	    auto.commit.enable=true, auto.commit.interval.ms=
//	    60*1000, fetch.min.bytes=1, fetch.wait.max.ms=100
//
// Not applicable: the Scala clients' own settings, which no client here
// has (producer.type, serializer.class, key.serializer.class,
// partitioner.class, compressed.topics, queue.enqueue.timeout.ms,
// consumer.id, zookeeper.*, queued.max.message.chunks, rebalance.*,
// refresh.leader.backoff.ms, consumer.timeout.ms, whose -1 is kcat without
// -e and kafka-python's consumer_timeout_ms the rest); the broker's
// server.properties (not a client's).
//
// 002 ja (kafka-python):
//
//	KafkaAdminClient(bootstrap_servers, client_id),       P TestKafkaPythonAdmin (replication_factor=2 raises
//	    NewTopic(num_partitions=6, replication_factor=2),    InvalidReplicationFactorError, as on a one-broker
//	    create_topics(validate_only=False)                    Kafka; then 1)
//	KafkaConsumer(bootstrap_servers).topics()             P TestKafkaPythonAdmin
//	KafkaProducer(bootstrap_servers='host:port' (a str),  P TestKafkaPythonJSON (with flush(); see above)
//	    value_serializer=json.dumps(v).encode('utf-8')),
//	    send(topic, value=dict)
//	KafkaConsumer(topic, bootstrap_servers), `for index,  P TestKafkaPythonJSON (from the earliest),
//	    msg in enumerate(consumer)`, default reset latest    TestKafkaPythonPosition (latest)
//
// 003 zh-ck2 (confluent-kafka):
//
//	Producer {'bootstrap.servers': 'h:9092,h:9092',       C TestConfluentProduceSeed
//	    'client.id': socket.gethostname()},
//	    produce(t, key=, value=), callback=acked,
//	    poll(1), flush(); the topic auto-created
//	produce(..., value=None)                              C TestConfluentProduceKeyed
//	Consumer {'group.id', 'enable.auto.commit': 'true',   C TestConfluentAutoCommitInterval ('true' as a string),
//	    'auto.offset.reset': 'smallest'}, poll(timeout=      TestConfluentGroupSyncCommit
//	    10.0)/poll(1.0), _PARTITION_EOF, close()
//	auto.offset.reset smallest/largest/earliest/latest    C TestConfluentOffsetReset
//	enable.auto.commit 'false' + commit(asynchronous=     C TestConfluentGroupSyncCommit
//	    False) every MIN_COMMIT_COUNT; commit before
//	    processing (at most once)
//	commit(asynchronous=True), 'on_commit' callback       C TestConfluentGroupAsyncCommit
//
// 004 zh-cli (console tools, kafka-python):
//
//	kafka-topics.sh --create --partitions 1               A TestConfluentAdmin, TestKafkaPythonAdmin
//	    --replication-factor 2 (refused on one broker,
//	    INVALID_REPLICATION_FACTOR, as Kafka), --list,
//	    --describe [--topic]                              K TestKcatMetadata
//	kafka-console-producer.sh --topic,                    K TestKcatConsoleProduceConsume
//	    kafka-console-consumer.sh --topic --from-beginning
//	kafka-console-consumer.sh without --from-beginning    K TestKcatConsumeFromNow
//	KafkaConsumer(topic, auto_offset_reset='earliest',    P TestKafkaPythonSeed004 (after the producer of the
//	    bootstrap_servers=[...], api_version=(0, 10),        tutorial the seed follows: KafkaProducer(
//	    consumer_timeout_ms=1000, value_deserializer=        bootstrap_servers=[...], api_version=(0, 10)),
//	    msgpack.loads); json.loads(msg.value), sleep(3),     send(key=, value=), flush()),
//	    close()                                              TestKafkaPythonOldAPIVersion
//
// The seeds' --zookeeper options and docker-compose listeners configure
// Kafka's servers, not the clients: runnel's own are ListenAddr and
// AdvertisedAddr.
package compattest
