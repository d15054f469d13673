"""confluent-kafka AdminClient: create_topics(), list_topics(), delete_topics(),
describe_configs(), alter_configs(): what kafka-topics.sh --create / --list /
--describe / --alter --config / --deleteConfig / --delete do.

Args: "topic" (3 partitions), "configured" (1 partition, created with
max.message.bytes=64000 and flush.messages=1, then altered as in the post).
"""
import time

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from compat import Deadline, args, ck_conf, out

mode, bootstrap, a = args()
admin = AdminClient(ck_conf(bootstrap))
res = {}


def results(fs):
    r = {}
    for name, f in fs.items():
        try:
            f.result()
            r[str(getattr(name, "name", name))] = None
        except KafkaException as e:
            r[str(getattr(name, "name", name))] = e.args[0].name()
    return r


def topics():
    md = admin.list_topics(timeout=10)
    return {t: {'partitions': sorted(p.id for p in m.partitions.values()),
                'leaders': sorted({p.leader for p in m.partitions.values()}),
                'replicas': sorted({tuple(p.replicas) for p in m.partitions.values()}),
                'error': str(m.error) if m.error else None}
            for t, m in md.topics.items()}


def configs(name):
    res_ = ConfigResource('topic', name)
    entries = admin.describe_configs([res_])[res_].result()
    return {k: entries[k].value for k in ('max.message.bytes', 'flush.messages')}


res['create'] = results(admin.create_topics([
    NewTopic(a['topic'], num_partitions=3, replication_factor=1),
    NewTopic(a['configured'], num_partitions=1, replication_factor=1,
             config={'max.message.bytes': '64000', 'flush.messages': '1'})]))
res['create_again'] = results(admin.create_topics([NewTopic(a['topic'], num_partitions=3, replication_factor=1)]))
res['create_rf2'] = results(admin.create_topics([NewTopic(a['topic'] + '-rf2', num_partitions=6, replication_factor=2)]))
res['listed'] = topics()
res['configs_created'] = configs(a['configured'])
set_ = {'max.message.bytes': '128000', 'flush.messages': '1'}
res['alter'] = results(admin.alter_configs([ConfigResource('topic', a['configured'], set_config=set_)]))
res['configs_altered'] = configs(a['configured'])
# --deleteConfig max.message.bytes: AlterConfigs replaces the whole set.
res['alter_delete'] = results(admin.alter_configs([ConfigResource('topic', a['configured'],
                                                                  set_config={'flush.messages': '1'})]))
res['configs_deleted'] = configs(a['configured'])
res['delete'] = results(admin.delete_topics([a['topic']], operation_timeout=10))
dl = Deadline(30)
while a['topic'] in topics() and dl.check('the deleted topic to leave the metadata'):
    time.sleep(0.1)
res['listed_after_delete'] = sorted(topics())
res['delete_again'] = results(admin.delete_topics([a['topic']], operation_timeout=10))
out(**res)
