"""Two consumers of one group on one topic, each in its own thread, as the
posts run them in two processes: the partitions must be split between
them. Once both hold a share and together hold every partition, a
record is produced to each partition, and each must reach the consumer
that holds its partition.

Mode: "confluent" or "kafka-python". Args: "topic", "group", "parts".
"""
import threading
import time

from compat import Deadline, args, ck_conf, ck_rec, kp_rec, kp_setup, out

mode, bootstrap, a = args()
topic, parts = a['topic'], a['parts']
stop = threading.Event()
lock = threading.Lock()
state = [{'assignment': [], 'records': []} for _ in range(2)]
errors = []


def run_confluent(i):
    from confluent_kafka import Consumer
    c = Consumer(ck_conf(bootstrap, **{'group.id': a['group'], 'auto.offset.reset': 'earliest'}))

    def on_assign(consumer, ps):
        with lock:
            state[i]['assignment'] = sorted(p.partition for p in ps)

    def on_revoke(consumer, ps):
        with lock:
            state[i]['assignment'] = []

    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    while not stop.is_set():
        m = c.poll(0.2)
        if m is not None and not m.error():
            with lock:
                state[i]['records'].append(ck_rec(m))
    c.close()


def run_kafka_python(i):
    from kafka import KafkaConsumer
    c = KafkaConsumer(topic, group_id=a['group'], bootstrap_servers=bootstrap, auto_offset_reset='earliest')
    while not stop.is_set():
        got = c.poll(timeout_ms=200)
        with lock:
            state[i]['assignment'] = sorted(p.partition for p in c.assignment())
            for batch in got.values():
                state[i]['records'].extend(kp_rec(m) for m in batch)
    c.close()


def guarded(fn, i):
    try:
        fn(i)
    except Exception as e:  # reported, not swallowed
        errors.append(repr(e))
        stop.set()


if mode == 'kafka-python':
    kp_setup()
fn = run_confluent if mode == 'confluent' else run_kafka_python
threads = [threading.Thread(target=guarded, args=(fn, i)) for i in range(2)]
for t in threads:
    t.start()


def split():
    with lock:
        a0, a1 = state[0]['assignment'], state[1]['assignment']
        return a0 and a1 and sorted(a0 + a1) == list(range(parts))


dl = Deadline(60)
try:
    while not split() and not errors and dl.check('the partitions to be split: %s' % state):
        time.sleep(0.05)
    with lock:
        assignments = [list(s['assignment']) for s in state]
    if mode == 'confluent':
        from confluent_kafka import Producer
        p = Producer(ck_conf(bootstrap))
        for part in range(parts):
            p.produce(topic, value='to-%d' % part, partition=part)
        p.flush(30)
    else:
        from kafka import KafkaProducer
        p = KafkaProducer(bootstrap_servers=bootstrap)
        for part in range(parts):
            p.send(topic, value=('to-%d' % part).encode(), partition=part)
        p.close()
    while not errors and dl.check('the records: %s' % state):
        with lock:
            if sum(len(s['records']) for s in state) >= parts:
                break
        time.sleep(0.05)
finally:
    stop.set()
    for t in threads:
        t.join()
if errors:
    raise SystemExit('consumer failed: %s' % errors)
out(assignments=assignments, records=[s['records'] for s in state])
