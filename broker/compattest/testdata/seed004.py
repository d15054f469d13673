"""Seed 004 ("流式大数据处理 Kafka"): the kafka-python consumer of its API
section, with exactly its settings, and a producer for it.

Modes:
  produce  {"topic", "recipes": [{"title", "calories"}...]}: the tutorial
           the seed follows (Getting started with Apache Kafka in Python)
           publishes with KafkaProducer(bootstrap_servers=[...],
           api_version=(0, 10)), a send(topic, key=..., value=...) then
           flush() per message; the values are msgpack of the JSON text,
           which the seed's consumer decodes (msgpack.loads, then
           json.loads). Prints the RecordMetadata of each send.
  consume  {"topic", "sleep"}: the seed's consumer, verbatim but for the
           topic, the address and the sleep between messages (the seed's
           3 seconds unless "sleep" says otherwise); prints the alerts.
"""
import json
from time import sleep

import msgpack
from kafka import KafkaConsumer, KafkaProducer

from compat import args, kp_setup, out

kp_setup()
mode, bootstrap, a = args()

if mode == 'produce':
    producer = KafkaProducer(bootstrap_servers=[bootstrap], api_version=(0, 10))
    sent = []
    for recipe in a['recipes']:
        key_bytes = bytes('parsed', encoding='utf-8')
        value_bytes = msgpack.packb(json.dumps(recipe))
        md = producer.send(a['topic'], key=key_bytes, value=value_bytes).get(timeout=10)
        producer.flush()
        sent.append([md.topic, md.partition, md.offset, md.timestamp])
    producer.close()
    out(sent=sent)
    raise SystemExit(0)

alerts = []
parsed_topic_name = a['topic']
# Notify if a recipe has more than 200 calories
calories_threshold = 200
consumer = KafkaConsumer(
    parsed_topic_name,
    auto_offset_reset='earliest',
    bootstrap_servers=[bootstrap],
    api_version=(0, 10),
    consumer_timeout_ms=1000,
    value_deserializer=msgpack.loads  # 解码:可能采用其他解码方法
)
for msg in consumer:
    record = json.loads(msg.value)
    calories = int(record['calories'])
    title = record['title']
    if calories > calories_threshold:
        print('Alert: {} calories count is {}'.format(title, calories))
        alerts.append([title, calories, msg.offset, msg.timestamp, msg.timestamp_type])
    sleep(a.get('sleep', 3))
if consumer is not None:
    consumer.close()
out(alerts=alerts)
