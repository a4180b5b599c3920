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

"""vsm-authz-listener on the real local cloud (Nova, Cinder, Keystone,
RabbitMQ): grants, denials, forgeries, duplicates, crash recovery."""

import json
import subprocess
import sys
import time
import urllib.request

from oslo_config import cfg
import oslo_messaging as messaging

from vsm_agent import protocol
from vsm_devenv.localcloud import metadata_proxy
from vsm_devenv.wait import wait_for
from vsm_tests.functional.authz import base

R = protocol.ResponseState


class TestGrantAndDeny(base.ListenerTestCase):

    def setUp(self):
        super().setUp()
        self.cloud.set_project_limit(self.project.id, None)
        self.addCleanup(self.cloud.set_project_limit, self.project.id, None)
        self.listener = self.start_listener()

    def test_request_is_extended_and_answered(self):
        guest = self.boot()
        request = guest.write_request(guest.volume.id, want=2, cur=1)
        answer = guest.wait_response(request, ('extended', 'failed',
                                               'denied'))
        self.assertEqual((R.EXTENDED, 2, 'ok'),
                         (answer.state, answer.size_gb, answer.reason))
        self.assertEqual(2, self.cloud.volume_size(guest.volume.id))
        record = self.db.get_request(guest.volume.id, request.request_id)
        self.assertEqual('extended', record.state)
        # The guest reads it without credentials from the metadata service.
        meta = self._metadata_service(guest)
        self.assertEqual(answer.encode(), meta['meta'][answer.key])
        # The agent acknowledges: the request is complete.
        guest.write_request(guest.volume.id, want=2, cur=2,
                            request_id=request.request_id,
                            state=protocol.RequestState.GROWN)
        wait_for(lambda: self.db.get_request(
            guest.volume.id, request.request_id).state == 'grown',
            30, 'grown', interval=0.5, ignore=base.TRANSIENT)

    def _metadata_service(self, guest):
        info = self.info['metadata']
        headers = metadata_proxy.metadata_headers(
            guest.id, self.project.id, info['shared_secret'],
            forwarded_for='10.0.0.5')

        def fetch():
            req = urllib.request.Request(
                info['url'] + '/openstack/latest/meta_data.json',
                headers=headers)
            with urllib.request.urlopen(req, timeout=10) as resp:
                meta = json.load(resp)
            value = meta['meta'].get(protocol.response_key(guest.volume.id))
            if value and 'st=extended' in value:
                return meta
        return wait_for(fetch, info['cache_expiration'] + 30,
                        'metadata service', interval=0.5,
                        ignore=base.TRANSIENT)

    def test_over_keystone_limit_is_denied(self):
        guest = self.boot()
        # No headroom at all (with some, the limit rule clamps the grant
        # to it instead of denying).
        usage = self.cloud.project_usage_gb(self.project.id)
        self.cloud.set_project_limit(self.project.id, usage)
        request = guest.write_request(guest.volume.id, want=3, cur=1)
        answer = guest.wait_response(request, ('extended', 'denied',
                                               'failed'))
        self.assertEqual((R.DENIED, 'over_limit'),
                         (answer.state, answer.reason))
        self.assertEqual(1, self.cloud.volume_size(guest.volume.id))
        audit = self.db.list_audit(volume_id=guest.volume.id,
                                   event='request.denied')
        self.assertEqual('over_limit', audit[0].reason)

    def test_forged_requests_are_refused(self):
        attacker = self.boot(name='vsm-flow-attacker')
        victim = self.boot(name='vsm-flow-victim')
        alt = self.cloud.connect_as('alt', 'alt')
        alt_guest = self.boot(conn=alt, name='vsm-flow-alt')
        # A volume of the same project, attached to another server; and a
        # volume of another project.
        same_project = attacker.write_request(victim.volume.id, want=5,
                                              cur=1)
        other_project = attacker.write_request(alt_guest.volume.id, want=5,
                                               cur=1)

        def audited():
            events = {(a.volume_id, a.reason) for a in self.db.list_audit(
                server_id=attacker.id, event='request.rejected')}
            return {(same_project.volume_id, 'not_attached'),
                    (other_project.volume_id, 'not_attached')} <= events
        wait_for(audited, 60, 'rejections audited', interval=0.5,
                 ignore=base.TRANSIENT)
        time.sleep(2)
        self.assertEqual(1, self.cloud.volume_size(victim.volume.id))
        self.assertEqual(1, self.cloud.volume_size(alt_guest.volume.id))
        metadata = attacker.metadata()
        self.assertNotIn(protocol.response_key(victim.volume.id), metadata)
        self.assertNotIn(protocol.response_key(alt_guest.volume.id),
                         metadata)
        self.assertNotIn(protocol.response_key(victim.volume.id),
                         victim.metadata())
        self.assertIsNone(self.db.get_volume(victim.volume.id))

    def test_duplicate_notifications_give_one_extend(self):
        guest = self.boot()
        request = guest.write_request(guest.volume.id, want=2, cur=1)
        guest.wait_response(request, ('extended',))
        # Replay the very notification Nova sent, five times, plus
        # rewrites of the same value (each makes Nova notify again).
        self._replay(guest, times=5)
        for _ in range(3):
            guest.write(request.key, request.encode())
        time.sleep(3)
        self.assertEqual(2, self.cloud.volume_size(guest.volume.id))
        extends = [a for a in self.db.list_audit(volume_id=guest.volume.id)
                   if a.event == 'extend.done']
        self.assertEqual(1, len(extends))

    def _replay(self, guest, times):
        conf = cfg.ConfigOpts()
        transport = messaging.get_notification_transport(
            conf, url=self.info['transport_url'])
        # As Nova sends it: exchange 'nova', priority info.
        target = messaging.Target(
            exchange=self.info['notifications']['exchange'],
            topic='%s.info' % self.info['notifications']['topic'])
        payload = {'nova_object.data': {'uuid': guest.id,
                                        'tenant_id': self.project.id,
                                        'metadata': guest.metadata()}}
        for index in range(times):
            message = {'message_id': 'replay-%d' % index,
                       'publisher_id': 'nova-compute:localcloud',
                       'event_type': 'instance.update', 'priority': 'INFO',
                       'payload': payload, 'timestamp': str(time.time())}
            transport._driver.send_notification(target, {}, message, 2.0)
        transport.cleanup()


class TestCrashRecovery(base.ListenerTestCase):

    def extra_config(self):
        # The worker sleeps 5 s after sending the extend before it looks
        # at Cinder again: the kill lands while the record is in flight.
        return {'extend': {'poll_interval': '5'}}

    def test_listener_killed_mid_extend_converges(self):
        guest = self.boot()
        listener = self.start_listener()
        request = guest.write_request(guest.volume.id, want=2, cur=1)
        state = wait_for(lambda: (self.db.get_request(
            guest.volume.id, request.request_id) or _Nothing).state in
            ('granted', 'extending') and 'in flight', 60, 'grant',
            interval=0.02, ignore=base.TRANSIENT)
        listener.kill()
        self.assertEqual('in flight', state)
        # Whatever the record's state, a restart (or a reconciliation)
        # finishes the job with one extend.
        listener = self.start_listener()
        answer = guest.wait_response(request, ('extended',), timeout=90)
        self.assertEqual(2, answer.size_gb)
        self.assertEqual(2, self.cloud.volume_size(guest.volume.id))

    def test_lost_notification_found_by_reconcile_once(self):
        guest = self.boot()
        # No listener running: the notification is consumed by nobody
        # (drain it so that the next listener does not see it).
        request = guest.write_request(guest.volume.id, want=2, cur=1)
        self._purge()
        out = subprocess.run(
            [sys.executable, '-m', 'vsm_authz.cmd.listener',
             '--config-file', self.conf_file, '--reconcile-once'],
            cwd=base.REPO, capture_output=True, text=True, timeout=300)
        self.assertEqual(0, out.returncode, out.stdout + out.stderr)
        answer = guest.wait_response(request, ('extended',), timeout=30)
        self.assertEqual(2, answer.size_gb)

    def _purge(self):
        # Our pool's queue does not exist before a listener declared it:
        # the notification went to the other consumers only (lost to us).
        self._delete_queue(self.pool)


class _Nothing:
    state = None
