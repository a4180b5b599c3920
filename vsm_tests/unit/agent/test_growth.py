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

"""When the agent grows filesystems, retries and acknowledges failures."""

import os

from vsm_tests.unit.agent import fakes

GIB = fakes.GIB


class TestGrowth(fakes.AgentTestCase):

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
