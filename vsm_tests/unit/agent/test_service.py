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

"""The agent's loop and its dry-run check(), with a fake system and channel."""

import os

import fixtures

from vsm_agent import lifecycle
from vsm_agent import monitor
from vsm_agent import status
from vsm_tests.unit.agent import fakes


class TestIdle(fakes.AgentTestCase):

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


class TestLoop(fakes.AgentTestCase):

    def test_metadata_unreachable_keeps_monitoring(self):
        self.usage.set('/srv', 10 * fakes.GIB, 85)
        self.run_for(2)
        self.channel.fail_reads = 'timed out'
        self.run_for(20)
        self.assertIn('failing', self.agent.status()['channel']['read'])
        self.usage.set('/srv', 10 * fakes.GIB, 86)
        self.run_for(1)
        mount = [m for m in self.agent.status()['mounts']
                 if m['mountpoint'] == '/srv'][0]
        self.assertEqual(86.0, mount['used_pct'])

    def test_serial_resolved_from_metadata_devices(self):
        self.run_for(1)
        self.assertEqual(fakes.VOL,
                         self.agent.store.volume_ids.get(fakes.VOL[:20]))

    def test_status_json_file_written(self):
        self.run_for(1)
        with open(os.path.join(self.tmp, 'run', 'status.json')) as f:
            self.assertIn('"/srv"', f.read())


class TestCheck(fakes.AgentTestCase):

    def test_check_explains(self):
        self.usage.set('/srv', 10 * fakes.GIB, 85)
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
            self.channel.devices.add(fakes.VOL)
            agent = self.new_agent()
            self.usage.set('/srv', 10 * fakes.GIB, used,
                           inodes_used_pct=inodes)
            predicted = {r['mountpoint']: r['would_request_gb']
                         for r in agent.check(self.now)}['/srv']
            self.run_for(5, agent=agent)
            asked = (self.request().requested_gb
                     if fakes.REQ_KEY in self.channel.metadata else None)
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
        self.usage.set('/srv', 10 * fakes.GIB, 85)
        report = {r['mountpoint']: r for r in self.agent.check(self.now)}
        self.assertEqual(2, observe.call_count)       # '/' and '/srv'
        self.assertEqual(1, plan.call_count)          # '/srv' only
        self.assertEqual(12, report['/srv']['would_request_gb'])
        self.run_for(2)
        self.assertEqual(2, plan.call_count)          # the loop's request
        self.assertEqual(12, self.request().requested_gb)
