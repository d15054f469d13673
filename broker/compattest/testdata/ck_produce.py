"""confluent-kafka Producer: produce() with delivery callbacks, poll(), flush().

Modes:
  seed   {"topic"}: the blog post's producer, verbatim but for the address:
         bootstrap.servers lists the broker twice (the post's
         '100.81.xxx.xx:9092,100.81.xxx.xx:9092'), produce without
         callback, with callback=acked, poll(1), flush().
  keyed  {"topic", "n", "keys"}: n keyed messages with headers, then a
         tombstone (value None) for key k0, a callback on each.
"""
import socket

from confluent_kafka import Producer

from compat import args, ck_conf, out, text

mode, bootstrap, a = args()
topic = a['topic']
reports = []


def acked(err, msg):
    reports.append({'err': str(err) if err else None, 'topic': msg.topic(), 'partition': msg.partition(),
                    'offset': msg.offset(), 'key': text(msg.key()), 'value': text(msg.value())})


servers = bootstrap + ',' + bootstrap if mode == 'seed' else bootstrap
producer = Producer(ck_conf(servers, **{'client.id': socket.gethostname()}))
if mode == 'seed':
    producer.produce(topic, key="key", value="value")
    producer.produce(topic, value="test value", callback=acked)
    producer.poll(1)
    producer.produce(topic, key="key", value="new msg")
elif mode == 'keyed':
    for i in range(a['n']):
        producer.produce(topic, key='k%d' % (i % a['keys']), value='v%d' % i,
                         headers=[('i', str(i))], callback=acked)
    producer.produce(topic, key='k0', value=None, callback=acked)
left = producer.flush(30)
out(reports=reports, left=left)
