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

"""The daemon's per-volume request state machine, with a fake channel."""

import os

import fixtures
import testtools

from vsm_agent import grow
from vsm_agent import lifecycle
from vsm_agent import monitor
from vsm_agent import protocol
from vsm_agent import service
from vsm_agent import status
from vsm_tests.unit.agent import fakes

GIB = fakes.GIB
VOL = '6f1c2a4e-0b8d-4c1e-9a57-3d2f00c1ab42'
REQ_KEY = 'vsm:req:' + VOL
RESP_KEY = 'vsm:resp:' + VOL


class FakeGrower:
    def __init__(self):
        self.calls = []
        self.fail = 0

    def __call__(self, mount, runner=None):
        self.calls.append(mount.mountpoint)
        if self.fail:
            self.fail -= 1
            return grow.GrowResult(False, False, 1, 1,
                                   failed_step='filesystem',
                                   error='exit 1: resize2fs: boom')
        return grow.GrowResult(True, True, 10 * GIB, 12 * GIB)


class AgentTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.system = self.useFixture(fakes.FakeSystem())
        self.system.add_disk('vdb', 10 * GIB, serial=VOL[:20])
        self.system.mount('/srv', 'ext4', self.system.add_partition('vdb', 1),
                          '/dev/vdb1')
        self.system.add_disk('vda', 20 * GIB)
        self.system.mount('/', 'ext4', self.system.add_partition('vda', 1),
                          '/dev/vda1')
        self.usage = fakes.FakeUsage()
        self.usage.set('/srv', 10 * GIB, 50)
        self.usage.set('/', 20 * GIB, 90)
        self.useFixture(fixtures.MockPatch('vsm_agent.monitor.sample',
                                           new=self.usage))
        self.channel = fakes.FakeChannel()
        self.channel.devices.add(VOL)
        self.grower = FakeGrower()
        self.now = 1764097200.0
        self.conf = fakes.make_conf(self.tmp, self.system,
                                    sizing__policy='fixed',
                                    sizing__fixed_gb=2)
        self.agent = self.new_agent()

    def new_agent(self):
        return service.Agent(self.conf, nova=self.channel,
                             clock=lambda: self.now, listener=False,
                             use_uevents=False, grower=self.grower)

    def run_for(self, seconds, step=0.5, agent=None):
        agent = agent or self.agent
        end = self.now + seconds
        while self.now < end:
            agent.tick(self.now)
            self.now += step

    def request(self):
        return protocol.parse_request(REQ_KEY, self.channel.metadata[REQ_KEY])

    def answer(self, st, size=12, **kw):
        req = self.request()
        self.channel.metadata[RESP_KEY] = protocol.ExpansionResponse(
            volume_id=VOL, request_id=req.request_id, seq=req.seq,
            state=st, size_gb=size, timestamp=int(self.now),
            reason=kw.pop('reason', 'ok'), **kw).encode()

    def vs(self, agent=None):
        return (agent or self.agent).store.volume(VOL)


class TestIdle(AgentTestCase):

    def test_idle_vm_writes_nothing_and_reads_once(self):
        self.run_for(600)
        self.assertEqual([], self.channel.writes)
        self.assertEqual(1, self.channel.reads)  # the start-up seed only
        self.assertEqual(lifecycle.IDLE, self.vs().phase)

    def test_root_from_image_is_not_asked_for(self):
        self.run_for(10)
        status = self.agent.status()
        root = [m for m in status['mounts'] if m['mountpoint'] == '/'][0]
        self.assertFalse(root['expandable'])
        self.assertIn('firing', root['trigger'])
        self.assertEqual([], self.channel.writes)


class TestRequestLifecycle(AgentTestCase):

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


class TestDenial(AgentTestCase):

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


class TestFailures(AgentTestCase):

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

    def test_metadata_unreachable_keeps_monitoring(self):
        self.usage.set('/srv', 10 * GIB, 85)
        self.run_for(2)
        self.channel.fail_reads = 'timed out'
        self.run_for(20)
        self.assertIn('failing', self.agent.status()['channel']['read'])
        self.usage.set('/srv', 10 * GIB, 86)
        self.run_for(1)
        mount = [m for m in self.agent.status()['mounts']
                 if m['mountpoint'] == '/srv'][0]
        self.assertEqual(86.0, mount['used_pct'])

    def test_grow_failure_retried_then_reported(self):
        self.grower.fail = 10
        self.usage.set('/srv', 10 * GIB, 85)
        self.run_for(2)
        self.system.set_size('vdb', 12 * GIB)
        self.run_for(200)
        self.assertGreaterEqual(self.vs().grow_attempts, 4)
        self.assertEqual('failed', self.request().state.value)
        self.assertEqual('grow_failed', self.request().reason)
        with open(os.path.join(self.tmp, 'motd.d', '90-vsm-agent')) as f:
            self.assertIn('resize2fs: boom', f.read())
        self.grower.fail = 0
        self.run_for(700)
        self.assertEqual(0, self.vs().grow_attempts)

    def test_unmapped_disk_never_grown(self):
        self.system.set_size('vda', 40 * GIB)
        self.run_for(120)
        self.assertEqual([], self.grower.calls)

    def test_capacity_grown_by_hand_is_grown_without_writes(self):
        self.run_for(1)
        self.system.set_size('vdb', 20 * GIB)
        self.agent.notice_capacity_change(['vdb'])
        self.run_for(1)
        self.assertEqual(['/srv'], self.grower.calls)
        self.assertEqual([], self.channel.writes)


class TestResolveAndCheck(AgentTestCase):

    def test_serial_resolved_from_metadata_devices(self):
        self.run_for(1)
        self.assertEqual(VOL, self.agent.store.volume_ids.get(VOL[:20]))

    def test_check_explains(self):
        self.usage.set('/srv', 10 * GIB, 85)
        report = {r['mountpoint']: r for r in self.agent.check(self.now)}
        self.assertEqual(12, report['/srv']['would_request_gb'])
        text = status.format_check(report.values())
        self.assertIn('would ask for 12 GiB', text)
        self.assertIn('breached: used_pct', text)
        self.assertIn('not expandable', text)
        self.assertEqual([], self.channel.writes)

    def test_check_and_loop_agree(self):
        # (used %, inodes used %, option overrides): check() must predict
        # exactly what the loop asks for, on the same agent, afterwards.
        cases = [
            (50, 1, {}), (85, 1, {}), (97, 1, {}), (50, 95, {}),
            (85, 1, {'triggers__used_pct': 90.0}),
            (85, 1, {'sizing__policy': 'percent', 'sizing__percent': 50.0,
                     'sizing__min_step_gb': 3}),
            (99, 1, {'sizing__policy': 'adaptive'}),
            (85, 1, {'sizing__max_size_gb': 10}),
        ]
        predictions = []
        for i, (used, inodes, overrides) in enumerate(cases):
            self.conf.set_override('state_dir', os.path.join(
                self.tmp, 'case%d' % i), 'agent')
            for name, value in overrides.items():
                group, _, opt = name.partition('__')
                self.conf.set_override(opt, value, group)
            self.channel = fakes.FakeChannel()
            self.channel.devices.add(VOL)
            agent = self.new_agent()
            self.usage.set('/srv', 10 * GIB, used, inodes_used_pct=inodes)
            predicted = {r['mountpoint']: r['would_request_gb']
                         for r in agent.check(self.now)}['/srv']
            self.run_for(5, agent=agent)
            asked = (self.request().requested_gb
                     if REQ_KEY in self.channel.metadata else None)
            self.assertEqual(predicted, asked, 'case %d' % i)
            predictions.append(predicted)
            for name in overrides:
                group, _, opt = name.partition('__')
                self.conf.clear_override(opt, group)
        self.assertEqual([None, 12, 13, 12, None, 15, 13, None], predictions)

    def test_check_uses_the_loops_evaluation_and_sizing(self):
        # check() calls the very functions the loop decides with; a copy
        # of the trigger or sizing logic would not be seen by these spies.
        observe = self.useFixture(fixtures.MockPatchObject(
            monitor.MountView, 'observe', autospec=True,
            side_effect=monitor.MountView.observe)).mock
        plan = self.useFixture(fixtures.MockPatchObject(
            lifecycle.Lifecycle, 'plan_size', autospec=True,
            side_effect=lifecycle.Lifecycle.plan_size)).mock
        self.usage.set('/srv', 10 * GIB, 85)
        report = {r['mountpoint']: r for r in self.agent.check(self.now)}
        self.assertEqual(2, observe.call_count)       # '/' and '/srv'
        self.assertEqual(1, plan.call_count)          # '/srv' only
        self.assertEqual(12, report['/srv']['would_request_gb'])
        self.run_for(2)
        self.assertEqual(2, plan.call_count)          # the loop's request
        self.assertEqual(12, self.request().requested_gb)

    def test_status_json_file_written(self):
        self.run_for(1)
        with open(os.path.join(self.tmp, 'run', 'status.json')) as f:
            self.assertIn('"/srv"', f.read())


class TestStatusTable(testtools.TestCase):

    def test_stale_status_is_flagged(self):
        snapshot = {'updated': 1, 'channel': {}, 'mounts': []}
        self.assertIn('is the daemon running',
                      status.format_table(snapshot))
