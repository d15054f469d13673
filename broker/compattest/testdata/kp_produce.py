"""kafka-python KafkaProducer: send().get(), keys, serializers, callbacks.

Modes:
  seed     {"topic"}: the first post's producer demo: a synchronous send
           (future.get(timeout=10)), a keyed send, a JSON value_serializer
           producer, 100 asynchronous sends, add_callback/add_errback,
           headers, flush(), retries=5.
  msgpack  {"topic"}: the first post's "encode objects via msgpack":
           KafkaProducer(value_serializer=msgpack.dumps), send of
           {'key': 'value'}.
  json     {"topic"}: the Japanese post's producer: a JSON value_serializer
           send of a dict holding non-ASCII text. The post has no flush():
           kafka-python 2.0.2 closes producers at exit with timeout 0, which
           drops unsent records whatever the broker, so this mode flushes.
"""
import json
import time

from kafka import KafkaProducer

from compat import args, kp_setup, out

kp_setup()
mode, bootstrap, a = args()
topic = a['topic']


def md(m):
    return [m.topic, m.partition, m.offset]


if mode == 'msgpack':
    import msgpack
    producer = KafkaProducer(bootstrap_servers=[bootstrap], value_serializer=msgpack.dumps)
    md = producer.send(topic, {'key': 'value'}).get(timeout=10)
    producer.close()
    out(sent=[md.topic, md.partition, md.offset])
    raise SystemExit(0)

if mode == 'json':
    jrtt_value = {"dev_app_type": 2, "date": "20201111", "data": {"name": "ZS-\u7f51\u6613"}, "timestamp": time.time()}
    producer = KafkaProducer(bootstrap_servers=bootstrap, value_serializer=lambda v: json.dumps(v).encode('utf-8'))
    producer.send(topic, value=jrtt_value)
    producer.flush()
    out(sent=jrtt_value)
    raise SystemExit(0)

producer = KafkaProducer(bootstrap_servers=[bootstrap])
record_metadata = producer.send(topic, b'raw_bytes').get(timeout=10)
keyed = producer.send(topic, key=b'foo', value=b'bar').get(timeout=10)
headers = producer.send(topic, value=b'with-headers', headers=[('h1', b'v1'), ('h2', b'')]).get(timeout=10)
json_producer = KafkaProducer(bootstrap_servers=[bootstrap],
                              value_serializer=lambda m: json.dumps(m).encode('ascii'))
json_md = json_producer.send(topic, {'key': 'value'}).get(timeout=10)
json_producer.close()
futures = [producer.send(topic, b'msg') for _ in range(100)]
ok, errs = [], []
producer.send(topic, b'raw_bytes').add_callback(lambda m: ok.append(md(m))).add_errback(lambda e: errs.append(repr(e)))
producer.flush()
async_mds = [md(f.get(timeout=0)) for f in futures]
retrying = KafkaProducer(bootstrap_servers=[bootstrap], retries=5)
retried = retrying.send(topic, key=b'retry', value=b'5').get(timeout=10)
retrying.close()
producer.close()
out(sync=md(record_metadata), keyed=md(keyed), headers=md(headers), json=md(json_md), asynchronous=async_mds,
    callbacks=ok, errbacks=errs, retries=md(retried))
