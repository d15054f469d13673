"""confluent-kafka Consumer in a group: subscribe(), poll(), commits, resets.

Modes (args: "topics", "group", "n": records to read, then read on to the
end of every partition; "parts": partitions per topic):
  autocommit  the first blog post: bootstrap.servers of two addresses
              ('Ip1,Ip2'; here the broker twice), enable.auto.commit,
              default.topic.config {'auto.offset.reset': 'smallest'};
              close() commits.
  interval    at most once, as the English post sets it up:
              enable.auto.commit with a small auto.commit.interval.ms
              ("interval"): waits until committed() shows the positions,
              before close().
  sync        enable.auto.commit false, commit(asynchronous=False) every
              "every" records (the second post's MIN_COMMIT_COUNT).
  async       commit(asynchronous=True) every "every" records, on_commit
              callback; waits for the callbacks.
  offsets     commit(offsets=[TopicPartition...]) of "offsets", then
              commit(message=msg) of the first record, then committed();
              the commits are synchronous (the post leaves the default,
              asynchronous, which committed() could overtake).
  reset       auto.offset.reset "reset" (top level, or inside
              default.topic.config if "dtc"): reads to the end of every
              partition, produces "new" records, reads those.
Topics may be regexes ('^prefix.*'), as subscribe() takes them; then
"committed_topics" names the topics to ask committed() about.
"""
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from compat import Deadline, args, ck_conf, ck_rec, ck_tps, out

mode, bootstrap, a = args()
conf = {'group.id': a['group'], 'enable.partition.eof': True}
if mode == 'autocommit':
    conf.update({'enable.auto.commit': True, 'default.topic.config': {'auto.offset.reset': 'smallest'}})
elif mode == 'interval':
    conf.update({'enable.auto.commit': 'true', 'auto.commit.interval.ms': a['interval'], 'auto.offset.reset': 'smallest'})
elif mode == 'reset':
    if a.get('dtc'):
        conf['default.topic.config'] = {'auto.offset.reset': a['reset']}
    else:
        conf['auto.offset.reset'] = a['reset']
else:
    conf.update({'enable.auto.commit': False, 'auto.offset.reset': 'smallest'})
commits = []


def commit_completed(err, partitions):
    commits.append({'err': str(err) if err else None, 'offsets': ck_tps(partitions)})


conf['on_commit'] = commit_completed
servers = bootstrap + ',' + bootstrap if mode == 'autocommit' else bootstrap
consumer = Consumer(ck_conf(servers, **conf))
assigned = []
consumer.subscribe(a['topics'], on_assign=lambda c, ps: assigned.append(ck_tps(ps)))

records, at_eof, sync_results, first = [], {}, [], None
dl = Deadline(60)


def consume_to_end(n):
    """Polls until n more records came and every assigned partition is at its end."""
    global first
    want = len(records) + n
    while dl.check('%d records and the end of every partition (have %d, eof %s)' % (want, len(records), at_eof)):
        msg = consumer.poll(timeout=1.0)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                at_eof[(msg.topic(), msg.partition())] = True
                parts = consumer.assignment()
                if len(records) >= want and parts and all(at_eof.get((p.topic, p.partition)) for p in parts):
                    return
                continue
            raise KafkaException(msg.error())
        at_eof[(msg.topic(), msg.partition())] = False
        records.append(ck_rec(msg))
        first = first or msg
        if mode in ('sync', 'async') and len(records) % a['every'] == 0:
            r = consumer.commit(asynchronous=(mode == 'async'))
            if r is not None:
                sync_results.append(ck_tps(r))


consume_to_end(a['n'])
if mode == 'offsets':
    topic = a['topics'][0]
    consumer.commit(offsets=[TopicPartition(topic, partition=p, offset=o) for p, o in enumerate(a['offsets'])],
                    asynchronous=False)
    consumer.commit(message=first, asynchronous=False)
elif mode == 'reset':
    producer = Producer(ck_conf(bootstrap))
    for i in range(a['new']):
        producer.produce(a['topics'][0], value='new-%d' % i, partition=i % a['parts'])
    producer.flush(30)
    consume_to_end(a['new'])
elif mode == 'async':
    while len(commits) < len(records) // a['every'] and dl.check('on_commit callbacks'):
        consumer.poll(0.2)
elif mode == 'interval':
    positions = consumer.position(consumer.assignment())
    want = sorted((p.topic, p.partition, p.offset) for p in positions)
    while dl.check('auto commits of %s' % want):
        got = consumer.committed(positions, timeout=10)
        if sorted((p.topic, p.partition, p.offset) for p in got) == want:
            break
        consumer.poll(0.1)
ctopics = a.get('committed_topics', a['topics'])
committed = consumer.committed([TopicPartition(t, p) for t in ctopics for p in range(a['parts'])], timeout=10)
consumer.close()
out(records=records, assigned=assigned, committed=ck_tps(committed), commits=commits, sync_results=sync_results,
    first=[first.topic(), first.partition(), first.offset()] if first else None)
