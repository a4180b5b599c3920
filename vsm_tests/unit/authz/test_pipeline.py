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

"""The pipeline on fake clouds and a real SQLite database."""

import threading
import time

from vsm_agent import protocol
from vsm_authz import clients
from vsm_authz.db import audit_log
from vsm_authz.db import expansions
from vsm_authz.db import states
from vsm_authz.db import volumes
from vsm_authz import errors
from vsm_authz import extend
from vsm_authz import rules
from vsm_tests.unit.authz import fakes

R = protocol.ResponseState


class TestGrant(fakes.FlowTestCase):

    def test_request_is_extended_and_answered(self):
        server, volume = self.server_with_volume(10)
        request = self.write_request(server, volume, want=12)
        self.notify(server)
        self.assertEqual([(volume, 12)], self.cinder.extends)
        self.assertEqual(12, self.cinder.volumes[volume]['size'])
        answer = self.nova.responses(server, volume)
        self.assertEqual((R.EXTENDED, 12, 'ok'),
                         (answer.state, answer.size_gb, answer.reason))
        self.assertTrue(answer.answers(request))
        # granted written before the extend, extended after
        answered = [protocol.parse_response(k, v).state
                    for _, k, v in self.nova.writes]
        self.assertEqual([R.GRANTED, R.EXTENDED], answered)
        record = expansions.get_request(volume, request.request_id)
        self.assertEqual(states.RecordState.EXTENDED, record.state)
        self.assertEqual(['granted'], self.notifier.events())
        self.assertIn('request.granted', self.audit_events())
        self.assertIn('extend.done', self.audit_events())

    def test_one_request_reads_the_volume_once_before_the_extend(self):
        server, volume = self.server_with_volume(10)
        self.write_request(server, volume, want=12)
        reads_before_extend = []
        calls_before_extend = []
        extend_volume = self.cinder.extend_volume

        def extend(*args):
            reads_before_extend.append(self.cinder.calls['get_volume'])
            calls_before_extend.append(dict(self.cinder.calls))
            return extend_volume(*args)
        self.cinder.extend_volume = extend
        self.notify(server)
        self.assertEqual([1], reads_before_extend)
        # A grant passes every rule, so every fact is read, each once.
        self.assertEqual([{'get_volume': 1, 'quota_set': 1,
                           'project_volumes': 1, 'pools': 1,
                           'volume_type': 1}], calls_before_extend)
        # Every call to the clouds for the whole request: Nova reads the
        # server and its attachments once and takes two answers (granted,
        # extended); Cinder is read once before the extend and once after
        # it (the extend completes on the next read); Keystone is asked
        # once about the limit.
        self.assertEqual({'get_server': 1, 'attached_volume_ids': 1,
                          'put_metadata_item': 2}, dict(self.nova.calls))
        self.assertEqual({'get_volume': 2, 'quota_set': 1,
                          'project_volumes': 1, 'pools': 1,
                          'volume_type': 1, 'extend_volume': 1},
                         dict(self.cinder.calls))
        self.assertEqual(1, self.checker.calls)

    def test_not_in_use_retry_time_from_config(self):
        self.conf.set_override('not_in_use_retry_seconds', 45,
                               group='pipeline')
        self.flow.driver.engine = rules.build_engine(self.conf,
                                                     enforcer=self.checker)
        server, volume = self.server_with_volume(10)
        self.cinder.volumes[volume]['status'] = 'attaching'
        self.write_request(server, volume, want=12)
        before = int(time.time())
        self.notify(server)
        answer = self.nova.responses(server, volume)
        self.assertEqual('not_in_use', answer.reason)
        # now + 45 s, rounded up to whole seconds
        self.assertGreaterEqual(answer.retry_after, before + 45)
        self.assertLessEqual(answer.retry_after, int(time.time()) + 46)
        self.assertEqual(1, self.cinder.calls['get_volume'])

    def test_duplicate_notifications_extend_once(self):
        server, volume = self.server_with_volume(10)
        self.write_request(server, volume, want=12)
        metadata = dict(self.nova.servers[server]['metadata'])
        for _ in range(3):
            self.flow.handle_notification(server, fakes.PROJECT, metadata)
        self.notify(server)
        self.assertEqual([(volume, 12)], self.cinder.extends)
        self.assertEqual(2, len(self.nova.writes))

    def test_concurrent_duplicates_extend_once(self):
        server, volume = self.server_with_volume(10)
        self.write_request(server, volume, want=12)
        metadata = dict(self.nova.servers[server]['metadata'])
        threads = [threading.Thread(target=self.flow.handle_notification,
                                    args=(server, fakes.PROJECT, metadata))
                   for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual([(volume, 12)], self.cinder.extends)

    def test_duplicate_does_not_wait_for_a_busy_driver(self):
        server, volume = self.server_with_volume(10)
        request = self.write_request(server, volume, want=12)
        record, _ = expansions.record_request(request, server, fakes.PROJECT,
                                              10)
        expansions.transition(volume, request.request_id, states.RecordState.GRANTED,
                              granted_gb=12, reason='ok')
        with self.locks.volume(volume):   # another driver at work
            self.notify(server)
        self.assertEqual([], self.cinder.extends)
        self.assertEqual([], self.nova.writes)
        self.notify(server)               # the driver died: we take over
        self.assertEqual([(volume, 12)], self.cinder.extends)

    def test_own_answer_notification_needs_no_nova_read(self):
        server, volume = self.server_with_volume(10)
        self.write_request(server, volume, want=12)
        self.notify(server)
        reads = self.nova.calls['get_server']
        self.notify(server)   # the notification of our own "extended"
        self.assertEqual(reads, self.nova.calls['get_server'])

    def test_lost_answer_is_reasserted(self):
        server, volume = self.server_with_volume(10)
        self.write_request(server, volume, want=12)
        self.notify(server)
        del self.nova.servers[server]['metadata'][
            protocol.response_key(volume)]
        self.notify(server)
        self.assertEqual(R.EXTENDED, self.nova.responses(server,
                                                         volume).state)
        self.assertEqual(1, len(self.cinder.extends))

    def test_guest_acknowledgement_completes(self):
        server, volume = self.server_with_volume(10)
        request = self.write_request(server, volume, want=12)
        self.notify(server)
        self.write_request(server, volume, want=12, cur=12,
                           request_id=request.request_id,
                           state=protocol.RequestState.GROWN,
                           reason='grown')
        self.notify(server)
        record = expansions.get_request(volume, request.request_id)
        self.assertEqual(states.RecordState.GROWN, record.state)
        self.assertEqual(['granted', 'completed'], self.notifier.events())
        self.assertEqual(R.EXTENDED, self.nova.responses(server,
                                                         volume).state)

    def test_guest_grow_failure_keeps_extended_answer(self):
        server, volume = self.server_with_volume(10)
        request = self.write_request(server, volume, want=12)
        self.notify(server)
        self.write_request(server, volume, want=12, cur=10,
                           request_id=request.request_id,
                           state=protocol.RequestState.FAILED,
                           reason='grow_failed')
        self.notify(server)
        record = expansions.get_request(volume, request.request_id)
        self.assertEqual((states.RecordState.FAILED, 'grow_failed'),
                         (record.state, record.reason))
        self.assertEqual(R.EXTENDED, self.nova.responses(server,
                                                         volume).state)
        self.assertEqual(['granted', 'failed'], self.notifier.events())

    def test_next_request_after_completion(self):
        server, volume = self.server_with_volume(10)
        self.write_request(server, volume, want=12, seq=1)
        self.notify(server)
        self.write_request(server, volume, want=14, seq=2)
        self.notify(server)
        self.assertEqual([(volume, 12), (volume, 14)], self.cinder.extends)


class TestDeny(fakes.FlowTestCase):

    def test_over_keystone_limit_is_denied(self):
        self.checker.limit = 10
        server, volume = self.server_with_volume(10)
        self.write_request(server, volume, want=12)
        self.notify(server)
        self.assertEqual([], self.cinder.extends)
        answer = self.nova.responses(server, volume)
        self.assertEqual((R.DENIED, 10, 'over_limit'),
                         (answer.state, answer.size_gb, answer.reason))
        self.assertEqual(['denied'], self.notifier.events())
        self.assertIn('request.denied', self.audit_events())

    def test_volume_of_another_server_is_refused_silently(self):
        server, _ = self.server_with_volume(10)
        other_server, other_volume = self.server_with_volume(10)
        self.write_request(server, other_volume, want=12, cur=10)
        self.notify(server)
        self.assertEqual([], self.cinder.extends)
        self.assertEqual([], self.nova.writes)
        self.assertIsNone(volumes.get_volume(other_volume))
        audit = audit_log.list_audit(event='request.rejected')
        self.assertEqual('not_attached', audit[0].reason)

    def test_volume_of_another_project_is_refused_silently(self):
        server, _ = self.server_with_volume(10)
        alt_server = self.nova.add_server(fakes.OTHER_PROJECT)
        alt_volume = self.cinder.add_volume(self.nova, alt_server, 10,
                                            fakes.OTHER_PROJECT)
        # Even if Nova listed it on our server, Cinder's owner differs.
        self.nova.attachments[server].add(alt_volume)
        self.write_request(server, alt_volume, want=12, cur=10)
        self.notify(server)
        self.assertEqual([], self.cinder.extends)
        self.assertEqual([], self.nova.writes)

    def test_notification_with_wrong_project_is_ignored(self):
        server, volume = self.server_with_volume(10)
        self.write_request(server, volume, want=12)
        self.notify(server, project_id=fakes.OTHER_PROJECT)
        self.assertEqual([], self.cinder.extends)
        audit = audit_log.list_audit(event='request.rejected')
        self.assertEqual('project_mismatch', audit[0].reason)

    def test_malformed_request_is_answered_invalid_if_attached(self):
        server, volume = self.server_with_volume(10)
        value = 'v=1;id=%s;seq=4;st=requested;cur=10;want=x' % ('c' * 32)
        self.nova.servers[server]['metadata'][
            protocol.request_key(volume)] = value
        self.notify(server)
        answer = self.nova.responses(server, volume)
        self.assertEqual((R.DENIED, 'invalid', 'c' * 32, 4),
                         (answer.state, answer.reason, answer.request_id,
                          answer.seq))
        self.notify(server)   # idempotent: no second write
        self.assertEqual(1, len(self.nova.writes))
        self.assertEqual(1, len(audit_log.list_audit(event='request.invalid')))

    def test_malformed_request_for_foreign_volume_gets_no_answer(self):
        server, _ = self.server_with_volume(10)
        foreign = fakes.new_uuid()
        self.nova.servers[server]['metadata'][
            protocol.request_key(foreign)] = 'garbage'
        self.nova.servers[server]['metadata']['vsm:req:../etc'] = 'x'
        self.notify(server)
        self.assertEqual([], self.nova.writes)
        self.assertEqual(2, len(audit_log.list_audit(event='request.invalid')))

    def test_request_not_larger_than_cinder_size(self):
        server, volume = self.server_with_volume(12)
        self.write_request(server, volume, want=12, cur=10)
        self.notify(server)
        answer = self.nova.responses(server, volume)
        self.assertEqual((R.DENIED, 'size_mismatch', 12),
                         (answer.state, answer.reason, answer.size_gb))

    def test_not_in_use_is_denied_with_retry(self):
        server, volume = self.server_with_volume(10)
        self.cinder.volumes[volume]['status'] = 'attaching'
        self.write_request(server, volume, want=12)
        self.notify(server)
        answer = self.nova.responses(server, volume)
        self.assertEqual((R.DENIED, 'not_in_use'),
                         (answer.state, answer.reason))
        self.assertIsNotNone(answer.retry_after)

    def assert_denied_on_the_volume_read(self, server, volume, reason):
        """Notify: the request is denied for ``reason`` after one Cinder
        volume GET, with no quota read, no listing of the project's
        volumes and no Keystone call."""
        self.notify(server)
        answer = self.nova.responses(server, volume)
        self.assertEqual((R.DENIED, reason), (answer.state, answer.reason))
        self.assertEqual({'get_volume': 1}, dict(self.cinder.calls))
        self.assertEqual(0, self.checker.calls)

    def test_request_in_cooldown_reads_only_what_the_rules_ask(self):
        self.conf.set_override('cooldown_seconds', 3600,
                               group='expansion_policy')
        server, volume = self.server_with_volume(10)
        self.write_request(server, volume, want=12, seq=1)
        self.notify(server)
        self.cinder.calls.clear()
        self.checker.calls = 0
        self.write_request(server, volume, want=14, seq=2)
        # The cooldown rule denies before the quota and limit rules (pools
        # and volume type are still cached from the grant).
        self.assert_denied_on_the_volume_read(server, volume, 'cooldown')

    def test_volume_not_in_use_reads_the_volume_only(self):
        policies = []
        policy_for = self.flow.driver.facts.policy_for
        self.flow.driver.facts.policy_for = \
            lambda p: policies.append(p) or policy_for(p)
        server, volume = self.server_with_volume(10)
        self.cinder.volumes[volume]['status'] = 'detaching'
        self.write_request(server, volume, want=12)
        # The sanity rule, first, denies from the volume read alone.
        self.assert_denied_on_the_volume_read(server, volume, 'not_in_use')
        self.assertEqual([], policies)

    def test_backend_without_online_extend(self):
        self.cinder.pool_caps['host@fake#fake'] = {
            'online_extend_support': False}
        server, volume = self.server_with_volume(10)
        self.write_request(server, volume, want=12)
        self.notify(server)
        self.assertEqual('no_online_extend',
                         self.nova.responses(server, volume).reason)
        self.assertEqual([], self.cinder.extends)

    def test_backend_in_config_deny_list(self):
        self.conf.set_override('no_online_extend_backends', ['nfs'],
                               group='validation')
        self.flow.driver.facts.no_online_extend = {'nfs'}
        server = self.nova.add_server()
        volume = self.cinder.add_volume(self.nova, server, 10,
                                        host='h@nfs#nfs')
        self.write_request(server, volume, want=12)
        self.notify(server)
        self.assertEqual('no_online_extend',
                         self.nova.responses(server, volume).reason)

    def test_stale_and_replayed_requests(self):
        server, volume = self.server_with_volume(10)
        self.write_request(server, volume, want=12, seq=5)
        self.notify(server)
        self.write_request(server, volume, want=20, seq=4)
        self.notify(server)
        self.write_request(server, volume, want=20, seq=5)
        self.notify(server)
        self.assertEqual([(volume, 12)], self.cinder.extends)
        self.assertEqual(1, len(audit_log.list_audit(event='request.stale')))
        self.assertEqual(1, len(audit_log.list_audit(event='request.replayed')))
        # The answer about the real request stays.
        self.assertEqual(5, self.nova.responses(server, volume).seq)


class TestFailures(fakes.FlowTestCase):

    def test_error_extending(self):
        self.cinder.extend_behaviour = 'error'
        server, volume = self.server_with_volume(10)
        self.write_request(server, volume, want=12)
        self.notify(server)
        answer = self.nova.responses(server, volume)
        self.assertEqual((R.FAILED, 'extend_error', 10),
                         (answer.state, answer.reason, answer.size_gb))
        self.assertEqual(['granted', 'failed'], self.notifier.events())

    def test_no_valid_backend(self):
        self.cinder.extend_behaviour = 'rollback'
        server, volume = self.server_with_volume(10)
        self.write_request(server, volume, want=12)
        self.notify(server)
        self.assertEqual('no_valid_backend',
                         self.nova.responses(server, volume).reason)

    def test_cinder_quota(self):
        self.cinder.extend_behaviour = '413'
        server, volume = self.server_with_volume(10)
        self.write_request(server, volume, want=12)
        self.notify(server)
        self.assertEqual((R.FAILED, 'quota'),
                         (self.nova.responses(server, volume).state,
                          self.nova.responses(server, volume).reason))

    def test_busy_volume_is_transient_and_resumes(self):
        self.cinder.extend_behaviour = 'busy'
        server, volume = self.server_with_volume(10)
        request = self.write_request(server, volume, want=12)
        exc = self.assertRaises(extend.ExtendBusy, self.notify, server)
        self.assertTrue(errors.is_transient(exc))
        record = expansions.get_request(volume, request.request_id)
        self.assertEqual(states.RecordState.EXTENDING, record.state)
        self.cinder.extend_behaviour = 'ok'
        self.notify(server)   # the redelivered message
        self.assertEqual(states.RecordState.EXTENDED, expansions.get_request(
            volume, request.request_id).state)
        self.assertEqual([(volume, 12)], self.cinder.extends)

    def test_cloud_unavailable_is_transient(self):
        server, volume = self.server_with_volume(10)
        self.write_request(server, volume, want=12)
        self.nova.unavailable = True
        exc = self.assertRaises(clients.CloudUnavailable, self.notify, server)
        self.assertTrue(errors.is_transient(exc))
        self.nova.unavailable = False
        self.notify(server)
        self.assertEqual(1, len(self.cinder.extends))

    def test_timeout_while_extending(self):
        self.cinder.extend_behaviour = 'stuck'
        self.flow.driver.extender.timeout = 0
        server, volume = self.server_with_volume(10)
        self.write_request(server, volume, want=12)
        self.notify(server)
        self.assertEqual('timeout',
                         self.nova.responses(server, volume).reason)

    def test_metadata_conflict_is_retried_by_reassertion(self):
        server, volume = self.server_with_volume(10)
        self.write_request(server, volume, want=12)
        self.nova.conflicts = 1   # the "granted" write is lost
        self.notify(server)
        self.assertEqual(R.EXTENDED, self.nova.responses(server,
                                                         volume).state)


class TestCrashRecovery(fakes.FlowTestCase):

    def _granted_record(self, state, cinder_size=None, cinder_status=None):
        server, volume = self.server_with_volume(10)
        request = self.write_request(server, volume, want=12)
        record, _ = expansions.record_request(request, server, fakes.PROJECT, 10)
        expansions.transition(volume, request.request_id, states.RecordState.GRANTED,
                              granted_gb=12, reason='ok')
        if state == states.RecordState.EXTENDING:
            expansions.transition(volume, request.request_id, states.RecordState.EXTENDING)
        if cinder_size:
            self.cinder.volumes[volume]['size'] = cinder_size
        if cinder_status:
            self.cinder.volumes[volume]['status'] = cinder_status
            self.cinder.volumes[volume]['_target'] = 12
        return server, volume, expansions.get_request(volume,
                                                      request.request_id)

    def test_crash_after_extend_finished(self):
        server, volume, record = self._granted_record(states.RecordState.EXTENDING, 12)
        record = self.flow.resume(record)
        self.assertEqual(states.RecordState.EXTENDED, record.state)
        self.assertEqual([], self.cinder.extends)

    def test_crash_before_extend_was_sent(self):
        server, volume, record = self._granted_record(states.RecordState.EXTENDING)
        record = self.flow.resume(record)
        self.assertEqual(states.RecordState.EXTENDED, record.state)
        self.assertEqual([(volume, 12)], self.cinder.extends)

    def test_crash_while_cinder_extends(self):
        server, volume, record = self._granted_record(
            states.RecordState.EXTENDING, cinder_status='extending')
        record = self.flow.resume(record)
        self.assertEqual(states.RecordState.EXTENDED, record.state)
        self.assertEqual([], self.cinder.extends)

    def test_crash_after_grant(self):
        server, volume, record = self._granted_record(states.RecordState.GRANTED)
        record = self.flow.resume(record)
        self.assertEqual(states.RecordState.EXTENDED, record.state)
        self.assertEqual(R.EXTENDED, self.nova.responses(server,
                                                         volume).state)
