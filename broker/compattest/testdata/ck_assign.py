"""confluent-kafka Consumer without subscribe(): assign(), seek(), position(),
pause()/resume(), get_watermark_offsets(), offsets_for_times().

Args: "topic" with partitions 0 and 1 already holding records, "group",
"start": the offset to assign partition 0 at, "ts": a timestamp to look up.
Steps: watermarks and offsets_for_times; assign p0 at start and p1 at the
beginning, read both to their ends; position(); pause p0, produce one
record to each partition, read p1's; resume p0, read its; seek p0 to
"seek" and read to the end; position().
"""
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition

from compat import Deadline, args, ck_conf, ck_rec, ck_tps, out

mode, bootstrap, a = args()
topic = a['topic']
tp0, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
consumer = Consumer(ck_conf(bootstrap, **{'group.id': a['group'], 'enable.auto.commit': False,
                                          'enable.partition.eof': True}))
res = {'watermarks': [consumer.get_watermark_offsets(p, timeout=10) for p in (tp0, tp1)],
       'times': ck_tps(consumer.offsets_for_times([TopicPartition(topic, 0, a['ts']),
                                                   TopicPartition(topic, 1, 2 ** 62)], timeout=10))}
dl = Deadline(60)


def read(until):
    """Polls until until(records) and the partitions read from are at their end."""
    recs, eof = [], set()
    while dl.check('records (have %s)' % recs):
        msg = consumer.poll(1.0)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() != KafkaError._PARTITION_EOF:
                raise KafkaException(msg.error())
            eof.add(msg.partition())
            if until(recs) and all(r['partition'] in eof for r in recs):
                return recs
            continue
        eof.discard(msg.partition())
        recs.append(ck_rec(msg))


def count(n):
    return lambda recs: len(recs) >= n


consumer.assign([TopicPartition(topic, 0, a['start']), TopicPartition(topic, 1, OFFSET_BEGINNING)])
want = (res['watermarks'][0][1] - a['start']) + res['watermarks'][1][1]
res['assigned'] = read(count(want))
res['position'] = ck_tps(consumer.position([tp0, tp1]))
consumer.pause([tp0])
producer = Producer(ck_conf(bootstrap))
producer.produce(topic, value='while-paused-0', partition=0)
producer.produce(topic, value='while-paused-1', partition=1)
producer.flush(30)
res['paused'] = read(lambda recs: any(r['value'] == 'while-paused-1' for r in recs))
consumer.resume([tp0])
res['resumed'] = read(count(1))
consumer.seek(TopicPartition(topic, 0, a['seek']))
res['seeked'] = read(count(1))
res['position_after_seek'] = ck_tps(consumer.position([tp0]))
consumer.close()
out(**res)
