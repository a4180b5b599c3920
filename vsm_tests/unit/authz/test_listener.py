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

"""The notification endpoint: filter, hand-off, requeue vs. poison."""

import json
import os
import time

import oslo_messaging as messaging

from vsm_agent import protocol
from vsm_authz.db import audit_log
from vsm_authz import listener
from vsm_tests.unit.authz import fakes

SAMPLES = os.path.join(os.path.dirname(__file__), '..', '..', 'samples')


def versioned(server_id, project_id, metadata):
    return {'nova_object.name': 'InstanceUpdatePayload',
            'nova_object.data': {'uuid': server_id, 'tenant_id': project_id,
                                 'metadata': metadata,
                                 'block_devices': []}}


def legacy(server_id, project_id, metadata):
    return {'instance_id': server_id, 'tenant_id': project_id,
            'metadata': metadata}


class TestPayloads(fakes.FlowTestCase):

    def _sample(self, name):
        with open(os.path.join(SAMPLES, name)) as f:
            return json.load(f)

    def test_real_versioned_sample(self):
        sample = self._sample('sample-nova-bdms-instance.update.json')
        server_id, project_id, metadata = listener.server_of(
            sample['event_type'], sample['payload'])
        data = sample['payload']['nova_object.data']
        self.assertEqual((data['uuid'], data['tenant_id']),
                         (server_id, project_id))
        self.assertIsInstance(metadata, dict)

    def test_real_legacy_sample(self):
        sample = self._sample('sample-nova-bdms-compute.instance.update.json')
        server_id, project_id, metadata = listener.server_of(
            sample['event_type'], sample['payload'])
        self.assertEqual(sample['payload']['instance_id'], server_id)
        self.assertIsInstance(metadata, dict)

    def test_odd_payloads(self):
        self.assertEqual((None, None, None),
                         listener.server_of('instance.update', 'x'))
        self.assertFalse(listener.has_request_key(None))
        self.assertFalse(listener.has_request_key(['vsm:req:x']))
        self.assertFalse(listener.has_request_key({'vsm:resp:x': 'y'}))
        self.assertTrue(listener.has_request_key({'vsm:req:x': 'y'}))


class TestEndpoint(fakes.FlowTestCase):

    def setUp(self):
        super().setUp()
        self.endpoint = listener.InstanceUpdateEndpoint(
            self.flow, self.conf.listener.event_types, requeue_delay=0)

    def deliver(self, event_type, payload):
        return self.endpoint.info({}, 'nova-compute:host', event_type,
                                  payload, {'message_id': 'm1'})

    def test_unrelated_messages_touch_nothing(self):
        server, volume = self.server_with_volume()
        for event_type, payload in (
                ('instance.update', versioned(server, fakes.PROJECT,
                                              {'a': 'b'})),
                ('compute.instance.update', legacy(server, fakes.PROJECT,
                                                   {})),
                ('volume.resize.end', {'volume_id': volume}),
                ('instance.update', versioned(server, fakes.PROJECT,
                                              None))):
            self.assertEqual(messaging.NotificationResult.HANDLED,
                             self.deliver(event_type, payload))
        self.assertEqual({}, dict(self.nova.calls))
        self.assertEqual(0, self.endpoint.handled)

    def test_versioned_and_legacy_requests_both_work_once(self):
        server, volume = self.server_with_volume()
        self.write_request(server, volume, want=12)
        metadata = dict(self.nova.servers[server]['metadata'])
        self.deliver('instance.update',
                     versioned(server, fakes.PROJECT, metadata))
        self.deliver('compute.instance.update',
                     legacy(server, fakes.PROJECT, metadata))
        self.assertEqual([(volume, 12)], self.cinder.extends)

    def test_transient_error_requeues(self):
        server, volume = self.server_with_volume()
        self.write_request(server, volume, want=12)
        metadata = dict(self.nova.servers[server]['metadata'])
        self.cinder.unavailable = True
        self.assertEqual(messaging.NotificationResult.REQUEUE,
                         self.deliver('instance.update', versioned(
                             server, fakes.PROJECT, metadata)))
        self.cinder.unavailable = False
        self.assertEqual(messaging.NotificationResult.HANDLED,
                         self.deliver('instance.update', versioned(
                             server, fakes.PROJECT, metadata)))
        self.assertEqual([(volume, 12)], self.cinder.extends)

    def test_poison_message_is_acked_and_audited(self):
        payload = versioned(12345, fakes.PROJECT,
                            {protocol.REQUEST_PREFIX + 'x': 'y'})
        self.assertEqual(messaging.NotificationResult.HANDLED,
                         self.deliver('instance.update', payload))
        audit = audit_log.list_audit(event='notification.poison')
        self.assertEqual(1, len(audit))
        self.assertEqual('m1', audit[0].detail['message_id'])

    def test_handler_bug_is_poison_not_requeue(self):
        server, volume = self.server_with_volume()
        self.write_request(server, volume, want=12)

        def boom(*args):
            raise KeyError('bug')
        self.flow.handle_notification = boom
        metadata = dict(self.nova.servers[server]['metadata'])
        self.assertEqual(messaging.NotificationResult.HANDLED,
                         self.deliver('instance.update', versioned(
                             server, fakes.PROJECT, metadata)))


class TestFakeTransport(fakes.FlowTestCase):
    """Through oslo.messaging's fake driver: targets, executor, requeue."""

    def test_message_reaches_pipeline(self):
        transport = messaging.get_notification_transport(self.conf,
                                                         url='fake:/')
        server_obj = listener.build_listener(self.conf, self.flow,
                                             transport=transport)
        server_obj.start()
        self.addCleanup(server_obj.wait)
        self.addCleanup(server_obj.stop)
        server, volume = self.server_with_volume()
        self.write_request(server, volume, want=12)
        metadata = dict(self.nova.servers[server]['metadata'])
        # As Nova sends it: its own exchange, VSM's topic, priority info.
        target = messaging.Target(exchange='nova',
                                  topic='vsm_notifications.info')
        message = {'message_id': 'x', 'publisher_id': 'nova-compute:host',
                   'event_type': 'instance.update', 'priority': 'INFO',
                   'payload': versioned(server, fakes.PROJECT, metadata),
                   'timestamp': 'now'}
        transport._driver.send_notification(target, {}, message, 2.0)
        deadline = time.time() + 10
        while not self.cinder.extends and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual([(volume, 12)], self.cinder.extends)
