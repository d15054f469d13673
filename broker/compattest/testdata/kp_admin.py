"""kafka-python admin: KafkaAdminClient as the Japanese post creates topics
(6 partitions, client_id), list_topics(), KafkaConsumer.topics(),
describe_configs()/alter_configs() (kafka-topics.sh --alter --config),
delete_topics(); and the first post's raw CreateTopicsRequest_v0 sent
with KafkaClient to the controller.

Args: "topic", "raw": the topic the raw request creates, "rf": the
replication factor the post asks for (2), "group": a group whose
committed offsets list_consumer_group_offsets() shows (optional).
"""
from kafka import KafkaAdminClient, KafkaClient, KafkaConsumer
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.protocol.admin import CreateTopicsRequest_v0

from compat import Deadline, args, kp_setup, out, tp

kp_setup()
dl = Deadline(30)
mode, bootstrap, a = args()
res = {}
admin_client = KafkaAdminClient(bootstrap_servers=bootstrap, client_id='T100117_gdt_grade_advertiser_get')
try:
    admin_client.create_topics(new_topics=[NewTopic(name=a['topic'] + '-rf', num_partitions=6,
                                                     replication_factor=a['rf'])], validate_only=False)
    res['create_rf'] = None
except Exception as e:
    res['create_rf'] = type(e).__name__
topic_list = [NewTopic(name=a['topic'], num_partitions=6, replication_factor=1,
                       topic_configs={'max.message.bytes': '64000'})]
r = admin_client.create_topics(new_topics=topic_list, validate_only=False)
res['create'] = [[t[0], t[1]] for t in r.topic_errors]
res['list_topics'] = sorted(admin_client.list_topics())
consumer = KafkaConsumer(bootstrap_servers=bootstrap)
res['consumer_topics'] = sorted(consumer.topics())
consumer.close()


def configs():
    r = admin_client.describe_configs([ConfigResource(ConfigResourceType.TOPIC, a['topic'])])
    return {e[0]: e[1] for e in r[0].resources[0][4] if e[0] in ('max.message.bytes', 'retention.ms')}


res['configs'] = configs()
admin_client.alter_configs([ConfigResource(ConfigResourceType.TOPIC, a['topic'],
                                           configs={'max.message.bytes': '128000'})])
res['configs_altered'] = configs()

client = KafkaClient(bootstrap_servers=bootstrap)
client.poll(future=client.cluster.request_update())
res['raw_exists_before'] = a['raw'] in client.cluster.topics(exclude_internal_topics=True)
controller = client.cluster.controller.nodeId
while not client.ready(controller) and dl.check('a connection to the controller'):
    client.poll(timeout_ms=100)
codes = []
for _ in range(2):
    request = CreateTopicsRequest_v0(create_topic_requests=[(a['raw'], 2, -1, [], [('retention.ms', '60000')])],
                                     timeout=10000)
    future = client.send(controller, request)
    client.poll(timeout_ms=10000, future=future)
    if future.failed():
        raise future.exception
    codes.append(future.value.topic_errors[0][1])  # 0 success, 36 TOPIC_ALREADY_EXISTS
res['raw_codes'] = codes
client.close()

if a.get('group'):
    res['group_offsets'] = [tp(p.topic, p.partition, om.offset)
                            for p, om in sorted(admin_client.list_consumer_group_offsets(a['group']).items())]
    res['groups'] = sorted(g[0] for g in admin_client.list_consumer_groups())
r = admin_client.delete_topics([a['topic']])
res['delete'] = [[t[0], t[1]] for t in r.topic_error_codes]
res['list_after_delete'] = sorted(admin_client.list_topics())
admin_client.close()
out(**res)
