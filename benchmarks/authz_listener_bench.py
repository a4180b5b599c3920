# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""How many unrelated ``instance.update`` notifications one listener worker
drops per second (budget: >= 2,000/s, DESIGN §8). Printed, not asserted.

Every state change of every VM in the cloud reaches VSM's topic, so the
listener's cheap filter is the fleet-wide hot path. Two figures:

``filter``
    :class:`vsm_authz.listener.InstanceUpdateEndpoint` called directly
    with a real Nova payload (the sample from the local cloud): the
    Python cost alone.
``rabbitmq``
    one real worker (oslo.messaging, ``threading`` executor, the same
    listener the service builds) draining a queue pre-filled with N
    unrelated notifications on the local cloud's RabbitMQ, on a topic of
    its own (so nobody else's queue is touched): broker, AMQP, JSON
    decoding, dispatch, ack.

Usage::

    python -m benchmarks.authz_listener_bench [--count 20000]
           [--transport-url rabbit://...]   # default: the local cloud's
"""

import argparse
import json
import os
import time
import uuid

import kombu
from oslo_config import cfg
import oslo_messaging as messaging

from vsm_authz import conf as vsm_conf
from vsm_authz import listener
from vsm_devenv.localcloud import info as info_mod
from vsm_devenv.localcloud.layout import Layout

SAMPLE = os.path.join(os.path.dirname(__file__), '..', 'vsm_tests',
                      'samples', 'sample-nova-bdms-instance.update.json')


def unrelated_payload():
    """A realistic versioned instance.update with ordinary metadata."""
    with open(SAMPLE) as f:
        payload = json.load(f)['payload']
    data = payload['nova_object.data']
    data['metadata'] = {'owner': 'team-a', 'backup': 'daily',
                        'vsm:resp:00000000-0000-0000-0000-000000000000':
                        'v=1;id=%s;seq=1;st=extended;size=2;ts=1;why=ok'
                        % ('0' * 32)}
    return payload


class _NoFlow:
    """Fails loudly if an unrelated message ever reaches the pipeline."""

    class db:
        @staticmethod
        def audit(*args, **kwargs):
            raise AssertionError('unrelated message audited')

    def handle_notification(self, *args):
        raise AssertionError('unrelated message reached the pipeline')


def bench_filter(count):
    endpoint = listener.InstanceUpdateEndpoint(
        _NoFlow(), ['instance.update', 'compute.instance.update'])
    payload = unrelated_payload()
    start = time.perf_counter()
    for _ in range(count):
        endpoint.info({}, 'nova-compute:host', 'instance.update', payload,
                      {'message_id': 'x'})
    return count / (time.perf_counter() - start)


def _kombu_url(url):
    # oslo.messaging says rabbit://, kombu amqp://
    return 'amqp://' + url.split('://', 1)[1]


def _publish(url, exchange, routing_key, payload, count):
    message = {'message_id': None, 'publisher_id': 'nova-compute:bench',
               'event_type': 'instance.update', 'priority': 'INFO',
               'payload': payload, 'timestamp': '2026-11-25 00:00:00'}
    with kombu.Connection(_kombu_url(url)) as conn:
        producer = conn.Producer(serializer='json')
        for index in range(count):
            message['message_id'] = str(index)
            producer.publish(
                {'oslo.version': '2.0',
                 'oslo.message': json.dumps(message)},
                exchange=kombu.Exchange(exchange, type='topic',
                                        durable=False, passive=True),
                routing_key=routing_key, declare=[])


def bench_rabbitmq(url, count, exchange='nova'):
    topic = 'vsm_bench_%s' % uuid.uuid4().hex[:8]
    conf = cfg.ConfigOpts()
    vsm_conf.register_opts(conf)
    conf([])
    conf.set_override('topics', [topic], group='listener')
    conf.set_override('exchange', exchange, group='listener')
    transport = messaging.get_notification_transport(conf, url=url)
    endpoint = listener.InstanceUpdateEndpoint(
        _NoFlow(), conf.listener.event_types)
    # First start declares the queue (bound to exchange/topic.info); the
    # messages then wait in it, and the second start is what we time.
    server = listener.build_listener(conf, None, transport, endpoint)
    server.start()
    server.stop()
    server.wait()
    try:
        _publish(url, exchange, topic + '.info', unrelated_payload(), count)
        endpoint.seen = 0
        server = listener.build_listener(conf, None, transport, endpoint)
        start = time.perf_counter()
        server.start()
        deadline = start + 600
        while endpoint.seen < count and time.perf_counter() < deadline:
            time.sleep(0.01)
        elapsed = time.perf_counter() - start
        server.stop()
        server.wait()
        return endpoint.seen / elapsed, endpoint.seen
    finally:
        with kombu.Connection(_kombu_url(url)) as conn:
            conn.default_channel.queue_delete(topic + '.info')
        transport.cleanup()


def _local_cloud_url():
    info = info_mod.load(Layout())
    return info['transport_url'] if info else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--count', type=int, default=20000)
    parser.add_argument('--transport-url', default=_local_cloud_url())
    args = parser.parse_args(argv)
    rate = bench_filter(args.count * 10)
    print('authz listener filter (in-process): %10.0f unrelated msg/s'
          % rate)
    if not args.transport_url:
        print('authz listener rabbitmq: skipped (no local cloud; pass '
              '--transport-url)')
        return 0
    rate, seen = bench_rabbitmq(args.transport_url, args.count)
    print('authz listener rabbitmq, 1 worker: %10.0f unrelated msg/s '
          '(%d messages; budget >= 2000/s: %s)'
          % (rate, seen, 'met' if rate >= 2000 else 'MISSED'))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
