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

"""Reconciliation: lost notifications, lost answers, crashed extends."""

from vsm_agent import protocol
from vsm_authz.db import expansions
from vsm_authz.db import states
from vsm_authz import reconcile
from vsm_tests.unit.authz import fakes

R = protocol.ResponseState


class TestReconcile(fakes.FlowTestCase):

    def setUp(self):
        super().setUp()
        self.conf.set_override('in_flight_age', 0, group='reconcile')
        self.reconciler = reconcile.Reconciler(self.conf, self.nova,
                                               self.flow)

    def test_lost_notification_is_processed(self):
        server, volume = self.server_with_volume(10)
        self.write_request(server, volume, want=12)   # nobody notified
        report = self.reconciler.run_once()
        self.assertEqual((1, 0), (report.servers, report.errors))
        self.assertEqual([(volume, 12)], self.cinder.extends)
        self.assertEqual(R.EXTENDED, self.nova.responses(server,
                                                         volume).state)

    def test_lost_answer_is_reasserted_without_extending(self):
        server, volume = self.server_with_volume(10)
        self.write_request(server, volume, want=12)
        self.reconciler.run_once()
        del self.nova.servers[server]['metadata'][
            protocol.response_key(volume)]
        self.reconciler.run_once()
        self.assertEqual(R.EXTENDED, self.nova.responses(server,
                                                         volume).state)
        self.assertEqual(1, len(self.cinder.extends))

    def test_settled_servers_cost_no_writes(self):
        server, volume = self.server_with_volume(10)
        self.write_request(server, volume, want=12)
        self.reconciler.run_once()
        writes = len(self.nova.writes)
        self.reconciler.run_once()
        self.assertEqual(writes, len(self.nova.writes))

    def test_crashed_extend_is_finished(self):
        server, volume = self.server_with_volume(10)
        request = self.write_request(server, volume, want=12)
        expansions.record_request(request, server, fakes.PROJECT, 10)
        expansions.transition(volume, request.request_id, states.RecordState.GRANTED,
                              granted_gb=12, reason='ok')
        expansions.transition(volume, request.request_id, states.RecordState.EXTENDING)
        # The request key is gone from the metadata (say, the guest was
        # rebuilt): only the database knows about the record.
        del self.nova.servers[server]['metadata'][request.key]
        report = self.reconciler.run_once()
        self.assertEqual(1, report.resumed)
        self.assertEqual(states.RecordState.EXTENDED, expansions.get_request(
            volume, request.request_id).state)

    def test_errors_are_counted_not_raised(self):
        server, volume = self.server_with_volume(10)
        self.write_request(server, volume, want=12)
        self.cinder.unavailable = True
        report = self.reconciler.run_once()
        self.assertEqual(1, report.errors)

    def test_other_projects_are_left_alone(self):
        self.flow.projects = frozenset({fakes.OTHER_PROJECT})
        server, volume = self.server_with_volume(10)
        self.write_request(server, volume, want=12)
        self.reconciler.run_once()
        self.assertEqual([], self.cinder.extends)
