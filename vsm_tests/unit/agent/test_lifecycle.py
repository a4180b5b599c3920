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

"""The per-volume request lifecycle through the agent, with a fake channel."""

import os

import fixtures

from vsm_agent import lifecycle
from vsm_agent import protocol
from vsm_agent import status
from vsm_tests.unit.agent import fakes

GIB = fakes.GIB
VOL = fakes.VOL
REQ_KEY = fakes.REQ_KEY
RESP_KEY = fakes.RESP_KEY


class TestRequestLifecycle(fakes.AgentTestCase):

    def test_full_cycle(self):
        self.run_for(5)
        self.usage.set('/srv', 10 * GIB, 85)
        self.run_for(2)
        self.assertEqual(1, len(self.channel.writes))
        req = self.request()
        self.assertEqual((1, 'requested', 10, 12, 'used_pct'),
                         (req.seq, req.state.value, req.current_gb,
                          req.requested_gb, req.reason))
        self.assertEqual(lifecycle.REQUESTED, self.vs().phase)

        # Still breached, request in flight: no second request.
        self.run_for(30)
        self.assertEqual(1, len(self.channel.writes))

        self.answer(protocol.ResponseState.PENDING)
        self.run_for(6)
        self.assertEqual(lifecycle.PENDING, self.vs().phase)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, 'motd.d',
                                                     '90-vsm-agent')))
        self.assertIn('pending approval', status.format_table(
            self.agent.status()))

        self.answer(protocol.ResponseState.GRANTED)
        self.run_for(6)
        self.assertEqual(lifecycle.GRANTED, self.vs().phase)
        self.assertEqual([], self.grower.calls)

        # The hypervisor grows the disk: grow and acknowledge at once.
        self.system.set_size('vdb', 12 * GIB)
        self.usage.set('/srv', 12 * GIB, 70)
        self.run_for(1)
        self.assertEqual(['/srv'], self.grower.calls)
        ack = self.request()
        self.assertEqual(('grown', 12, 12, 'grown', req.request_id),
                         (ack.state.value, ack.current_gb, ack.requested_gb,
                          ack.reason, ack.request_id))
        self.assertEqual(lifecycle.ACKNOWLEDGED, self.vs().phase)

        self.answer(protocol.ResponseState.EXTENDED)
        self.run_for(10)
        self.assertEqual(lifecycle.IDLE, self.vs().phase)
        self.assertEqual(2, len(self.channel.writes))
        reads = self.channel.reads
        self.run_for(600)
        self.assertEqual(reads, self.channel.reads)
        self.assertEqual(2, len(self.channel.writes))

    def test_emergency_asks_on_first_sample(self):
        self.run_for(1)
        self.usage.set('/srv', 10 * GIB, 97)
        # The next sample (at most interval_s away) fires without waiting
        # for sustained_samples.
        self.run_for(2)
        self.assertEqual('emergency', self.request().reason)
        self.assertEqual(1, len(self.channel.writes))

    def test_request_vanished_is_reasserted(self):
        self.usage.set('/srv', 10 * GIB, 85)
        self.run_for(2)
        value = self.channel.metadata.pop(REQ_KEY)
        self.run_for(6)
        self.assertEqual(value, self.channel.metadata[REQ_KEY])
        self.assertEqual(2, len(self.channel.writes))

    def test_extended_before_capacity_waits_then_grows(self):
        self.usage.set('/srv', 10 * GIB, 85)
        self.run_for(2)
        self.answer(protocol.ResponseState.EXTENDED)
        self.run_for(6)
        self.assertEqual(lifecycle.EXTENDED, self.vs().phase)
        self.assertEqual([], self.grower.calls)
        self.system.set_size('vdb', 12 * GIB)
        self.run_for(1)
        self.assertEqual(lifecycle.ACKNOWLEDGED, self.vs().phase)

    def test_sequence_grows_per_request(self):
        self.usage.set('/srv', 10 * GIB, 85)
        self.run_for(2)
        self.system.set_size('vdb', 12 * GIB)
        self.usage.set('/srv', 12 * GIB, 70)
        self.run_for(7)
        self.assertEqual(lifecycle.IDLE, self.vs().phase)
        self.usage.set('/srv', 12 * GIB, 90)
        self.run_for(2)
        self.assertEqual((2, 12, 14), (self.request().seq,
                                       self.request().current_gb,
                                       self.request().requested_gb))

    def test_two_volumes_are_driven_independently(self):
        vol2 = '0c9d3b7e-5a1f-4e2d-8b6c-7f4e3d2c1b0a'
        self.system.add_disk('vdc', 10 * GIB, serial=vol2[:20])
        self.system.mount('/data', 'xfs', self.system.add_partition('vdc', 1),
                          '/dev/vdc1')
        self.channel.devices.add(vol2)
        self.usage.set('/data', 10 * GIB, 85)
        self.usage.set('/srv', 10 * GIB, 85)
        self.run_for(3)
        self.assertEqual(['vsm:req:' + vol2, REQ_KEY],
                         sorted(key for key, _ in self.channel.writes))
        self.assertEqual(lifecycle.REQUESTED,
                         self.agent.store.volume(vol2).phase)
        self.assertEqual(lifecycle.REQUESTED, self.vs().phase)

    def test_dry_run_writes_nothing(self):
        self.conf.set_override('dry_run', True, 'agent')
        agent = self.new_agent()
        self.usage.set('/srv', 10 * GIB, 85)
        self.run_for(5, agent=agent)
        self.assertEqual([], self.channel.writes)


class TestDenial(fakes.AgentTestCase):

    def deny(self, **kw):
        self.usage.set('/srv', 10 * GIB, 85)
        self.run_for(2)
        self.answer(protocol.ResponseState.DENIED, size=10,
                    reason='over_limit', **kw)
        self.run_for(6)

    def test_denial_stops_asking_and_alerts(self):
        log = self.useFixture(fixtures.FakeLogger())
        self.deny()
        self.assertEqual(lifecycle.DENIED, self.vs().phase)
        self.run_for(600)
        self.assertEqual(1, len(self.channel.writes))
        with open(os.path.join(self.tmp, 'motd.d', '90-vsm-agent')) as f:
            self.assertIn('DENIED (over_limit)', f.read())
        self.assertIn('VSM alert', log.output)
        table = status.format_table(self.agent.status())
        self.assertIn('denied', table)
        self.assertIn('denied 10G (over_limit)', table)

    def test_denial_persists_across_restart(self):
        self.deny()
        writes = len(self.channel.writes)
        agent = self.new_agent()
        self.assertEqual(lifecycle.DENIED, self.vs(agent).phase)
        self.run_for(600, agent=agent)
        self.assertEqual(writes, len(self.channel.writes))

    def test_denial_lifted_when_answer_removed(self):
        self.deny()
        del self.channel.metadata[RESP_KEY]
        self.run_for(301)
        self.assertEqual(2, len(self.channel.writes))
        self.assertEqual(2, self.request().seq)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, 'motd.d',
                                                     '90-vsm-agent')))

    def test_denial_with_after_expires(self):
        self.deny(retry_after=int(self.now) + 100)
        self.run_for(50)
        self.assertEqual(1, len(self.channel.writes))
        self.run_for(60)
        self.assertEqual(2, len(self.channel.writes))

    def test_denial_learned_from_metadata_after_state_loss(self):
        self.deny()
        os.unlink(os.path.join(self.tmp, 'state', 'state.json'))
        agent = self.new_agent()
        self.run_for(60, agent=agent)
        self.assertEqual(lifecycle.DENIED, self.vs(agent).phase)
        self.assertEqual(1, len(self.channel.writes))


class TestWriteFailures(fakes.AgentTestCase):

    def test_write_failure_backs_off_and_reports(self):
        self.channel.fail_writes = 'connection refused'
        self.usage.set('/srv', 10 * GIB, 85)
        self.run_for(2)
        self.assertTrue(self.vs().unwritten)
        self.assertIn('failing', self.agent.status()['channel']['write'])
        self.channel.fail_writes = None
        self.run_for(10)
        self.assertFalse(self.vs().unwritten)
        self.assertEqual(1, len(self.channel.writes))
        self.assertEqual('ok', self.agent.status()['channel']['write'])
