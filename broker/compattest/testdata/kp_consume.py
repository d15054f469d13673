"""kafka-python KafkaConsumer, as the posts use it.

Modes (args: "topic", "n": records expected, "group": group_id or absent):
  iterate   `for msg in consumer` with auto_offset_reset='earliest' and
            consumer_timeout_ms ("timeout_ms"), which ends the loop
            (StopIteration) once no record came for that long; loops again
            until n records came; "json": value_deserializer=json.loads;
            "msgpack": value_deserializer=msgpack.unpackb (the first
            post's "consume msgpack");
            "api_version": passed on (the Japanese post's (0, 10)).
            close() commits when there is a group.
  manual    enable_auto_commit=False: poll() n records, commit(),
            committed(), commit(offsets={tp: OffsetAndMetadata}),
            commit_async(callback=...); close(autocommit=False).
  seek      post 1 #5: partitions_for_topic(), topics(), subscription(),
            assignment(), beginning_offsets(), end_offsets(),
            offsets_for_times() ("ts"), seek(tp0, "seek"), iterate.
  position  post 1 #6/#7: subscribe(topics=("topic", "topic2")), topics(),
            position() of each partition 0 (the end: the default reset is
            latest), produce one record to each, poll(timeout_ms=5) them.
  pause     post 1 #8: subscribe(topics=("topic")), topics(), position(),
            pause(tp0), paused(), produce to partitions 0 and 1, poll
            until p1's record, resume(tp0), poll p0's.
  listener  exactly once, as the English post describes it: offsets kept
            outside Kafka ("stored": partition -> offset), enable_auto_commit
            False, a ConsumerRebalanceListener whose on_partitions_assigned
            seeks to them; poll n records.
  pattern   subscribe(pattern="pattern"); topics(); position() of each
            assigned partition; produce one record to each of "produce"
            (topics, matching or not); poll until "n" records.
"""
import json

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from compat import Deadline, args, kp_rec, kp_setup, out, tp

kp_setup()
mode, bootstrap, a = args()
topic = a.get('topic')
tp0 = TopicPartition(topic=topic, partition=0)
dl = Deadline(60)
res = {}


def tps(d):
    """{TopicPartition: offset} as a sorted list of tp()s."""
    return [tp(p.topic, p.partition, v) for p, v in sorted(d.items())]


def tpl(s):
    """TopicPartitions as a sorted list of tp()s."""
    return [tp(p.topic, p.partition) for p in sorted(s)]


def iterate(consumer, n):
    recs, stops = [], 0
    while dl.check('%d records (have %d)' % (n, len(recs))):
        for msg in consumer:
            recs.append(kp_rec(msg))
        stops += 1  # consumer_timeout_ms passed without a message
        if len(recs) >= n:
            return recs, stops


def poll(consumer, until):
    recs = []
    while not until(recs) and dl.check('records (have %s)' % recs):
        for batch in consumer.poll(timeout_ms=5).values():
            recs.extend(kp_rec(m) for m in batch)
    return recs


def produce(*tps_):
    p = KafkaProducer(bootstrap_servers=bootstrap)
    for t, part in tps_:
        p.send(t, value=('new-%s-%d' % (t, part)).encode(), partition=part).get(timeout=10)
    p.close()


if mode == 'iterate':
    kw = {}
    if a.get('json'):
        kw['value_deserializer'] = lambda m: json.loads(m.decode('ascii'))
    if a.get('msgpack'):
        import msgpack
        kw['value_deserializer'] = msgpack.unpackb
    if a.get('api_version'):
        kw['api_version'] = tuple(a['api_version'])
    consumer = KafkaConsumer(topic, group_id=a.get('group'), auto_offset_reset='earliest',
                             bootstrap_servers=[bootstrap], consumer_timeout_ms=a['timeout_ms'], **kw)
    res['records'], res['stops'] = iterate(consumer, a['n'])
    res['assignment'] = tpl(consumer.assignment())
    consumer.close()
elif mode == 'manual':
    consumer = KafkaConsumer(topic, group_id=a['group'], bootstrap_servers=[bootstrap],
                             auto_offset_reset='earliest', enable_auto_commit=False)
    res['records'] = poll(consumer, lambda recs: len(recs) >= a['n'])
    parts = sorted(consumer.assignment())
    consumer.commit()
    res['committed'] = [tp(p.topic, p.partition, consumer.committed(p)) for p in parts]
    consumer.commit(offsets={tp0: OffsetAndMetadata(1, 'from-python')})
    res['committed_explicit'] = [tp(p.topic, p.partition, consumer.committed(p)) for p in parts]
    done = []
    consumer.commit_async(offsets={tp0: OffsetAndMetadata(2, None)},
                          callback=lambda offsets, response: done.append(repr(response)))
    while not done and dl.check('the commit_async callback'):
        consumer.poll(timeout_ms=50)
    res['async_callback'] = done
    res['committed_async'] = consumer.committed(tp0)
    consumer.close(autocommit=False)
elif mode == 'seek':
    consumer = KafkaConsumer(topic, bootstrap_servers=[bootstrap], consumer_timeout_ms=a['timeout_ms'])
    res['partitions_for_topic'] = sorted(consumer.partitions_for_topic(topic))
    res['topics'] = sorted(consumer.topics())
    res['subscription'] = sorted(consumer.subscription())
    res['assignment'] = tpl(consumer.assignment())
    res['beginning_offsets'] = tps(consumer.beginning_offsets(consumer.assignment()))
    res['end_offsets'] = tps(consumer.end_offsets(consumer.assignment()))
    times = consumer.offsets_for_times({tp0: a['ts'], TopicPartition(topic, 1): 2 ** 62})
    res['offsets_for_times'] = tps({p: v.offset if v else None for p, v in times.items()})
    consumer.seek(tp0, a['seek'])
    res['records'], res['stops'] = iterate(consumer, a['n'])
    consumer.close()
elif mode == 'position':
    consumer = KafkaConsumer(bootstrap_servers=[bootstrap])
    consumer.subscribe(topics=(topic, a['topic2']))
    res['topics'] = sorted(consumer.topics())
    res['subscription'] = sorted(consumer.subscription())
    res['position'] = [consumer.position(TopicPartition(topic=t, partition=0)) for t in (topic, a['topic2'])]
    produce((topic, 0), (a['topic2'], 0))
    res['records'] = poll(consumer, lambda recs: len(recs) >= 2)
    consumer.close()
elif mode == 'pause':
    consumer = KafkaConsumer(bootstrap_servers=[bootstrap])
    consumer.subscribe(topics=(topic))
    consumer.topics()
    res['position'] = [consumer.position(p) for p in sorted(consumer.assignment())]
    consumer.pause(TopicPartition(topic=topic, partition=0))
    res['paused'] = tpl(consumer.paused())
    produce((topic, 0), (topic, 1))
    res['while_paused'] = poll(consumer, lambda recs: any(r['partition'] == 1 for r in recs))
    consumer.resume(TopicPartition(topic=topic, partition=0))
    res['paused_after_resume'] = tpl(consumer.paused())
    res['resumed'] = poll(consumer, lambda recs: len(recs) >= 1)
    consumer.close()
elif mode == 'listener':
    consumer = KafkaConsumer(bootstrap_servers=[bootstrap], group_id=a['group'], enable_auto_commit=False)
    stored = {TopicPartition(topic, int(p)): o for p, o in a['stored'].items()}
    assigned = []

    class SeekToStored(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            pass

        def on_partitions_assigned(self, partitions):
            assigned.append(tpl(partitions))
            for p in partitions:
                consumer.seek(p, stored[p])

    consumer.subscribe(topics=[topic], listener=SeekToStored())
    res['records'] = poll(consumer, lambda recs: len(recs) >= a['n'])
    res['assigned'] = assigned
    consumer.close(autocommit=False)
elif mode == 'pattern':
    consumer = KafkaConsumer(bootstrap_servers=[bootstrap], group_id=a.get('group'))
    consumer.subscribe(pattern=a['pattern'])
    consumer.topics()
    while len(consumer.assignment()) < a['partitions'] and dl.check('the assignment'):
        consumer.poll(timeout_ms=50)
    res['subscription'] = sorted(consumer.subscription())
    res['assignment'] = tpl(consumer.assignment())
    res['positions'] = tps({p: consumer.position(p) for p in consumer.assignment()})
    produce(*[(t, 0) for t in a['produce']])
    res['records'] = poll(consumer, lambda recs: len(recs) >= a['n'])
    consumer.close()
out(**res)
