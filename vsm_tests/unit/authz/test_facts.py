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

"""The facts one decision rests on, gathered from one volume read."""

from oslo_config import cfg
import testtools

from vsm_agent import protocol
from vsm_authz import conf as vsm_conf
from vsm_authz.db import expansions
from vsm_authz.db import fixture as db_fixture
from vsm_authz import facts
from vsm_authz.rules import base
from vsm_authz.rules import size
from vsm_tests.unit.authz import fakes


class TestGatherer(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(db_fixture.Database())
        self.conf = cfg.ConfigOpts()
        vsm_conf.register_opts(self.conf)
        self.conf([])
        self.nova = fakes.FakeNova()
        self.cinder = fakes.FakeCinder()
        self.gatherer = facts.Gatherer(self.conf, self.cinder)
        self.server_id = self.nova.add_server()
        self.volume_id = self.cinder.add_volume(self.nova, self.server_id)
        request = protocol.ExpansionRequest(
            volume_id=self.volume_id, request_id=protocol.new_request_id(),
            seq=1, state=protocol.RequestState.REQUESTED, current_gb=10,
            requested_gb=12, timestamp=1, reason='used_pct')
        self.record, _ = expansions.record_request(request, self.server_id,
                                                   fakes.PROJECT, 10)

    def context(self):
        return self.gatherer.context(
            self.record, None, self.cinder.get_volume(self.volume_id))

    def test_context(self):
        ctx = self.context()
        self.assertEqual((10, 'in-use', fakes.PROJECT, 10, 10),
                         (ctx.volume.size_gb, ctx.volume.status,
                          ctx.volume.project_id, ctx.volume.original_size_gb,
                          ctx.project_usage_gb))
        self.assertEqual(12, ctx.request.requested_gb)
        self.assertEqual(1, self.cinder.calls['get_volume'])

    def test_costly_facts_are_read_when_asked_and_once(self):
        asked = []
        self.gatherer.policy_for = lambda p: asked.append(p) or 'policy'
        ctx = self.context()
        self.assertEqual({'get_volume': 1, 'pools': 1, 'volume_type': 1},
                         dict(self.cinder.calls))
        self.assertEqual([], asked)
        for _ in range(2):
            self.assertEqual((1000, 10, [], 'policy'),
                             (ctx.quota['gigabytes']['limit'],
                              ctx.project_usage_gb, ctx.volume_history,
                              ctx.policy))
        self.assertEqual({'get_volume': 1, 'pools': 1, 'volume_type': 1,
                          'quota_set': 1, 'project_volumes': 1},
                         dict(self.cinder.calls))
        self.assertEqual([fakes.PROJECT], asked)

    def test_not_in_use_is_answered_by_the_sanity_rule(self):
        self.cinder.volumes[self.volume_id]['status'] = 'detaching'
        ctx = self.context()
        self.assertIsNone(ctx.volume.online_extend_support)
        decision = size.RequestSanityRule(30).apply(ctx, 12)
        self.assertEqual(('deny', 'not_in_use', 10),
                         (decision.outcome, decision.reason,
                          decision.size_gb))
        self.assertEqual(30, decision.retry_after - base.to_epoch(ctx.now))

    def test_online_extend_sources(self):
        facts_ = self.context().volume
        self.assertIsNone(self.gatherer.online_extend_support(facts_))
        self.cinder.types['fake'] = {'extra_specs': {
            'volume_backend_name': 'fake'}}
        self.gatherer.no_online_extend = {'fake'}
        self.gatherer._types.clear()
        self.assertFalse(self.gatherer.online_extend_support(facts_))
        self.cinder.types['fake'] = {'extra_specs': {
            'online_extend_support': '<is> True'}}
        self.gatherer._types.clear()
        self.assertTrue(self.gatherer.online_extend_support(facts_))
        self.cinder.pool_caps['host@fake#fake'] = {
            'online_extend_support': False}
        self.gatherer._pools = None
        self.assertFalse(self.gatherer.online_extend_support(facts_))
