"""Helpers shared by the compatibility scripts (see ../doc.go).

Every script is run as  /usr/bin/python3 SCRIPT MODE BOOTSTRAP 'JSON-ARGS'
and prints its result as one JSON object, the last line of stdout. Errors
go to stderr and exit non-zero. RUNNEL_COMPAT_DEBUG=1 turns on the clients'
debug logs (on stderr), which the Go test shows when it fails.
"""
import json
import os
import sys
import time

DEBUG = os.environ.get('RUNNEL_COMPAT_DEBUG') == '1'


def args():
    """Returns (mode, bootstrap, args dict) from argv."""
    return sys.argv[1], sys.argv[2], json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}


def out(**result):
    print(json.dumps(result, sort_keys=True), flush=True)


def text(b):
    if b is None or isinstance(b, str):
        return b
    if isinstance(b, bytes):
        return b.decode('utf-8')
    return json.dumps(b, sort_keys=True)  # a deserialized value


def headers(hs):
    return [[k, text(v)] for k, v in (hs or [])]


class Deadline:
    """Waiting for a condition: `while not cond(): dl.check('what')`."""

    def __init__(self, seconds=30):
        self.end = time.monotonic() + seconds

    def check(self, what):
        if time.monotonic() > self.end:
            sys.exit('timed out waiting for ' + what)
        return True


# confluent-kafka (librdkafka)

def ck_conf(bootstrap, **conf):
    c = {'bootstrap.servers': bootstrap}
    if DEBUG:
        c['debug'] = 'protocol,broker,cgrp,topic,fetch'
    c.update(conf)
    return c


def ck_rec(m):
    return {'topic': m.topic(), 'partition': m.partition(), 'offset': m.offset(),
            'key': text(m.key()), 'value': text(m.value()), 'headers': headers(m.headers())}


def tp(topic, partition, offset=None, error=None):
    return {'topic': topic, 'partition': partition, 'offset': offset, 'error': error}


def ck_tps(tps):
    """A TopicPartition list, as tp()s."""
    return [tp(p.topic, p.partition, p.offset, str(p.error) if p.error else None) for p in tps]


# kafka-python

def kp_setup():
    import logging
    logging.basicConfig(level=logging.DEBUG if DEBUG else logging.WARNING, stream=sys.stderr)


def kp_rec(m):
    return {'topic': m.topic, 'partition': m.partition, 'offset': m.offset,
            'key': text(m.key), 'value': text(m.value), 'headers': headers(m.headers)}
