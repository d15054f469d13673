"""kafka-python pinned to an old api_version: produce, then consume back.

Mode: the api_version, dotted ("0.8.2", "0.9", "0.10"): kafka-python 2.0.2
then produces with Produce v0 (0.8.2) or v1 (0.9), magic 0 message sets,
or v2 (0.10), magic 1; and fetches with Fetch v0, v1 or v2.
Args: {"topics": {codec: topic}, "n", "ts"}: for each compression_type
codec ("none" for None) a KafkaProducer(api_version=...,
compression_type=..., linger_ms=10000) sends n records (key k<i>, value
v<i>, timestamp_ms ts+i; record 1 without key, record 2 a tombstone) then flush()es, so
that they travel as one compressed message set; a KafkaConsumer(topic,
api_version=..., auto_offset_reset='earliest', consumer_timeout_ms=1000)
reads them back.
"""
from kafka import KafkaConsumer, KafkaProducer

from compat import Deadline, args, kp_rec, kp_setup, out

kp_setup()
mode, bootstrap, a = args()
api = tuple(int(x) for x in mode.split('.'))
res = {}
for codec, topic in sorted(a['topics'].items()):
    producer = KafkaProducer(bootstrap_servers=[bootstrap], api_version=api, linger_ms=10000,
                             compression_type=None if codec == 'none' else codec)
    futures = []
    for i in range(a['n']):
        key = None if i == 1 else ('k%d' % i).encode()
        value = None if i == 2 else ('v%d' % i).encode()
        futures.append(producer.send(topic, key=key, value=value, timestamp_ms=a['ts'] + i))
    producer.flush()
    sent = [[f.get(timeout=0).offset, f.get(timeout=0).timestamp] for f in futures]
    producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=[bootstrap], api_version=api,
                             auto_offset_reset='earliest', consumer_timeout_ms=1000)
    recs, dl = [], Deadline(30)
    while len(recs) < a['n'] and dl.check('%d records of %s (have %d)' % (a['n'], topic, len(recs))):
        for msg in consumer:
            r = kp_rec(msg)
            r['timestamp'], r['timestamp_type'] = msg.timestamp, msg.timestamp_type
            recs.append(r)
    consumer.close()
    res[codec] = {'sent': sent, 'consumed': recs}
out(**res)
