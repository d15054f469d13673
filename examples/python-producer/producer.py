#!/usr/bin/env python3
"""Writes sensor readings as JSON to a Kafka topic, the way the Kafka
tutorials do with confluent-kafka (or kafka-python when it is missing).
Point it at runnel's broker, or at any Kafka cluster:

    python3 producer.py --bootstrap localhost:9092 --topic readings

The readings are deterministic: 5 sensors, one reading a second in turn
(each sensor every 5 s) for --minutes minutes from 2026-11-21T09:00:00Z,
then one reading per sensor at +20 minutes, which moves event time on so
that the pipeline closes every minute before it.
"""
import argparse
import json
import sys

BASE_MS = 1795251600000  # 2026-11-21T09:00:00Z
SENSORS = 5


def readings(minutes):
    for i in range(minutes * 60):
        sensor = "sensor-%d" % (i % SENSORS)
        celsius = 18 + (i % 7) * 0.5 + (i % SENSORS)
        yield sensor, {"sensor": sensor, "celsius": celsius, "ts": BASE_MS + i * 1000}
    for s in range(SENSORS):
        sensor = "sensor-%d" % s
        yield sensor, {"sensor": sensor, "celsius": 20.0, "ts": BASE_MS + (minutes + 20) * 60000}


def produce_confluent(args, rows):
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": args.bootstrap, "enable.idempotence": True})
    failed = []

    def acked(err, msg):
        if err is not None:
            failed.append(str(err))

    n = 0
    for key, value in rows:
        p.produce(args.topic, key=key, value=json.dumps(value), callback=acked)
        p.poll(0)
        n += 1
    p.flush(30)
    if failed:
        sys.exit("delivery failed: %s" % failed[0])
    return n


def produce_kafka_python(args, rows):
    from kafka import KafkaProducer

    p = KafkaProducer(bootstrap_servers=args.bootstrap, acks="all",
                      key_serializer=str.encode,
                      value_serializer=lambda v: json.dumps(v).encode())
    futures = [p.send(args.topic, key=k, value=v) for k, v in rows]
    p.flush(30)
    for f in futures:
        f.get(timeout=30)
    return len(futures)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", default="localhost:9092")
    ap.add_argument("--topic", default="readings")
    ap.add_argument("--minutes", type=int, default=10)
    ap.add_argument("--client", choices=["confluent", "kafka-python"], default="confluent")
    args = ap.parse_args()
    rows = readings(args.minutes)
    if args.client == "confluent":
        try:
            n = produce_confluent(args, rows)
        except ImportError:
            n = produce_kafka_python(args, rows)
    else:
        n = produce_kafka_python(args, rows)
    print("wrote %d readings to %s at %s" % (n, args.topic, args.bootstrap))


if __name__ == "__main__":
    main()
