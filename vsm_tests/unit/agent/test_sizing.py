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

"""Every increment policy as a decision table."""

import testtools

from vsm_agent import sizing

GIB = 1024 ** 3


class TestSizingDecisionTable(testtools.TestCase):

    # (name, policy kwargs, plan_step kwargs, requested_gb)
    TABLE = [
        ('fixed', dict(policy='fixed', fixed_gb=5), dict(current_gb=10), 15),
        ('percent small clamps to min',
         dict(policy='percent', percent=10, min_step_gb=2),
         dict(current_gb=10), 12),
        ('percent rounds up', dict(policy='percent', percent=15),
         dict(current_gb=10), 12),
        ('percent clamps to max',
         dict(policy='percent', percent=50, max_step_gb=20),
         dict(current_gb=100), 120),
        ('adaptive first', dict(policy='adaptive', adaptive_base_gb=2),
         dict(current_gb=10, recent_grows=0), 12),
        ('adaptive fills often',
         dict(policy='adaptive', adaptive_base_gb=2, adaptive_factor=2),
         dict(current_gb=10, recent_grows=3), 26),
        ('adaptive capped at max step',
         dict(policy='adaptive', adaptive_base_gb=2, max_step_gb=10),
         dict(current_gb=10, recent_grows=10), 20),
        ('forecast', dict(policy='forecast', forecast_horizon_s=3600),
         dict(current_gb=10, fill_rate_bps=GIB / 600.0), 16),
        ('forecast idle uses min step',
         dict(policy='forecast', min_step_gb=3),
         dict(current_gb=10, fill_rate_bps=0), 13),
        ('never beyond max size', dict(policy='fixed', fixed_gb=50,
                                       max_size_gb=40),
         dict(current_gb=30), 40),
        ('at max size: nothing', dict(policy='fixed', max_size_gb=30),
         dict(current_gb=30), None),
        ('raised to leave breach',
         dict(policy='fixed', fixed_gb=1),
         dict(current_gb=10, used_bytes=9 * GIB, used_pct_threshold=80), 12),
        ('zero size disk', dict(policy='percent', percent=10),
         dict(current_gb=0), 1),
    ]

    def test_table(self):
        for name, kw, args, expected in self.TABLE:
            decision = sizing.SizingPolicy(**kw).plan_step(**args)
            self.assertEqual(expected, decision.requested_gb,
                             '%s: %s' % (name, decision.explain))
            if expected is not None:
                self.assertGreater(decision.step_gb, 0, name)
                self.assertIsInstance(decision.requested_gb, int, name)

    def test_always_positive_whole_and_capped(self):
        for pol in ('fixed', 'percent', 'adaptive', 'forecast'):
            p = sizing.SizingPolicy(policy=pol, max_size_gb=64)
            for current in (0, 1, 7, 63):
                for grows in (0, 1, 5, 40):
                    d = p.plan_step(current_gb=current, recent_grows=grows,
                                    fill_rate_bps=grows * 1e7,
                                    used_bytes=current * GIB,
                                    used_pct_threshold=80)
                    self.assertGreater(d.requested_gb, current)
                    self.assertLessEqual(d.requested_gb, 64)

    def test_recent_grow_count(self):
        self.assertEqual(2, sizing.recent_grow_count([10, 90, 95], 100, 50))
