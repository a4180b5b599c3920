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

"""Every trigger and increment policy as a decision table."""

import fixtures
import testtools

from vsm_agent import monitor
from vsm_agent import sizing
from vsm_agent import triggers
from vsm_tests.unit.agent import fakes

GIB = 1024 ** 3
MIB = 1024 ** 2


def usage(used_pct, size=100 * GIB, inodes=1000, inode_pct=1.0, ts=0.0):
    used = int(size * used_pct / 100)
    return monitor.Sample(timestamp=ts, size_bytes=size, used_bytes=used,
                          avail_bytes=size - used, inodes=inodes,
                          inodes_free=int(inodes * (1 - inode_pct / 100)))


OFF = dict(used_pct=0, free_pct=0, free_bytes_mb=0, inode_used_pct=0,
           emergency_used_pct=0, emergency_free_mb=0, lead_time_s=0,
           sustained_samples=1)


def policy(**kw):
    return triggers.Thresholds(**dict(OFF, **kw))


class TestTriggerDecisionTable(testtools.TestCase):

    # (name, thresholds, sample, time to full, breach, codes, emergency)
    TABLE = [
        ('used below', policy(used_pct=80), usage(79.9), None,
         False, [], None),
        ('used at', policy(used_pct=80), usage(80), None,
         True, ['used_pct'], None),
        ('free above', policy(free_pct=15), usage(80), None,
         False, [], None),
        ('free at', policy(free_pct=15), usage(85), None,
         True, ['free_pct'], None),
        ('floor above', policy(free_bytes_mb=1024), usage(98, 100 * GIB),
         None, False, [], None),
        ('floor hit', policy(free_bytes_mb=1024), usage(99.5, 100 * GIB),
         None, True, ['free_bytes'], None),
        ('inodes below', policy(inode_used_pct=90), usage(10, inode_pct=89),
         None, False, [], None),
        ('inodes hit', policy(inode_used_pct=90), usage(10, inode_pct=91),
         None, True, ['inodes'], None),
        ('inodes unlimited (btrfs)', policy(inode_used_pct=90),
         usage(10, inodes=0), None, False, [], None),
        ('any: one of two', policy(used_pct=80, inode_used_pct=90),
         usage(85, inode_pct=5), None, True, ['used_pct'], None),
        ('all: one of two', policy(used_pct=80, inode_used_pct=90,
                                   combine='all'),
         usage(85, inode_pct=5), None, False, ['used_pct'], None),
        ('all: both', policy(used_pct=80, inode_used_pct=90, combine='all'),
         usage(85, inode_pct=95), None, True, ['used_pct', 'inodes'], None),
        ('predictive: slow', policy(lead_time_s=300), usage(50), 3600,
         False, [], None),
        ('predictive: fast', policy(lead_time_s=300), usage(50), 120,
         True, ['predicted'], None),
        ('predictive off', policy(), usage(50), 1, False, [], None),
        ('emergency pct', policy(used_pct=80, emergency_used_pct=95),
         usage(96), None, True, ['used_pct'], 'emergency'),
        ('emergency floor', policy(emergency_free_mb=100),
         usage(99.95, 100 * GIB), None, False, [], 'emergency'),
        ('everything off', policy(), usage(100), None, False, [], None),
    ]

    def test_table(self):
        for name, t, s, ttf, breach, codes, emergency in self.TABLE:
            got = triggers.breached_conditions(t, s, ttf)
            self.assertEqual((breach, codes, emergency), got, name)


class TestSustainedBreach(testtools.TestCase):

    def test_needs_n_consecutive_samples(self):
        t = policy(used_pct=80, sustained_samples=3)
        tracker = triggers.BreachTracker()
        states = [tracker.evaluate('/d', t, usage(p)).state
                  for p in (85, 85, 60, 85, 85, 85, 85)]
        self.assertEqual(['breach', 'breach', 'ok', 'breach', 'breach',
                          'firing', 'firing'], states)

    def test_emergency_skips_the_wait(self):
        t = policy(used_pct=80, sustained_samples=5, emergency_used_pct=95)
        verdict = triggers.BreachTracker().evaluate('/d', t, usage(97))
        self.assertTrue(verdict.fire)
        self.assertEqual('emergency', verdict.reason)

    def test_near_state_and_describe(self):
        t = policy(used_pct=80, sustained_samples=2)
        tracker = triggers.BreachTracker()
        self.assertEqual('near', tracker.evaluate('/d', t, usage(75),
                                                  near_margin_pct=10).state)
        self.assertEqual('ok', tracker.evaluate('/d', t, usage(50)).state)
        v = tracker.evaluate('/d', t, usage(81))
        self.assertEqual('breach 1/2 (used_pct)', v.describe())
        v = tracker.evaluate('/d', t, usage(81))
        self.assertEqual('firing (used_pct)', v.describe())

    def test_mounts_tracked_separately(self):
        t = policy(used_pct=80, sustained_samples=2)
        tracker = triggers.BreachTracker()
        tracker.evaluate('/a', t, usage(90))
        self.assertFalse(tracker.evaluate('/b', t, usage(90)).fire)
        self.assertTrue(tracker.evaluate('/a', t, usage(90)).fire)


class TestAdaptiveInterval(testtools.TestCase):

    TABLE = [
        # used %, verdict state, ttf, expected interval
        (10, 'ok', None, 10.0),
        (70, 'ok', None, 10.0),
        (75, 'near', None, 5.5),
        (79.9, 'near', None, 1.09),
        (50, 'ok', 500, 1.0),     # predicted to fill within 2 lead times
        (85, 'breach', None, 1.0),
        (99, 'firing', None, 1.0),
    ]

    def test_table(self):
        t = policy(used_pct=80, lead_time_s=300)
        for used, state, ttf, expected in self.TABLE:
            got = triggers.next_interval(
                t, usage(used), triggers.Verdict(state, False), base=10.0,
                minimum=1.0, near_margin_pct=10, time_to_full_s=ttf)
            self.assertAlmostEqual(expected, got, places=2,
                                   msg='used %s %s' % (used, state))


class TestUsageClasses(testtools.TestCase):

    def test_patterns_and_fallback(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        conf = fakes.make_conf(tmp, triggers__usage_classes=[
            '/srv/code*=code', '/data*=data'], triggers__used_pct=85.0)
        classes = triggers.UsageClasses.from_conf(conf)
        conf.set_override('used_pct', 95.0, 'usage_class:code')
        conf.set_override('sustained_samples', 5, 'usage_class:data')
        classes = triggers.UsageClasses.from_conf(conf)
        code = classes.thresholds_for('/srv/code/app')
        data = classes.thresholds_for('/data1')
        other = classes.thresholds_for('/var')
        self.assertEqual(('code', 95.0, 2), (code.usage_class, code.used_pct,
                                             code.sustained_samples))
        self.assertEqual(('data', 85.0, 5), (data.usage_class, data.used_pct,
                                             data.sustained_samples))
        self.assertEqual(('default', 85.0), (other.usage_class,
                                             other.used_pct))

    def test_bad_entry(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        conf = fakes.make_conf(tmp, triggers__usage_classes=['nopattern'])
        self.assertRaises(ValueError, triggers.UsageClasses.from_conf, conf)


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


class TestFillRate(testtools.TestCase):

    def test_linear_fill(self):
        rate = monitor.FillRate(window_s=100)
        for t in range(10):
            rate.add(usage(0, ts=t) .__class__(
                timestamp=float(t), size_bytes=1000, used_bytes=100 + 10 * t,
                avail_bytes=900 - 10 * t, inodes=0, inodes_free=0))
        self.assertAlmostEqual(10.0, rate.bytes_per_s)
        last = monitor.Sample(9.0, 1000, 190, 810, 0, 0)
        self.assertAlmostEqual(81.0, rate.time_to_full_s(last))

    def test_not_filling(self):
        rate = monitor.FillRate()
        s = monitor.Sample(0.0, 1000, 100, 900, 0, 0)
        self.assertIsNone(rate.time_to_full_s(s))
        rate.add(s)
        rate.add(monitor.Sample(1.0, 1000, 50, 950, 0, 0))
        self.assertIsNone(rate.time_to_full_s(s))

    def test_window_slides(self):
        rate = monitor.FillRate(window_s=10)
        for t in range(100):
            rate.add(monitor.Sample(float(t), 1000, t, 1000 - t, 0, 0))
        self.assertLessEqual(len(rate._samples), 12)

    def test_sample_uses_statvfs(self):
        s = monitor.sample('/', 1.0)
        self.assertGreater(s.size_bytes, 0)
        self.assertTrue(0 <= s.used_pct <= 100)


class TestFillRateDiscontinuities(testtools.TestCase):

    def test_size_change_starts_a_new_window(self):
        rate = monitor.FillRate()
        # Unmounted (the parent filesystem, size 0), then mounted again:
        # not a burst of writing.
        for t in range(10):
            rate.add(monitor.Sample(float(t), 0, 0, 0, 0, 0))
        for t in range(10, 13):
            rate.add(monitor.Sample(float(t), GIB, GIB // 2, GIB // 2, 0, 0))
        self.assertEqual(0.0, rate.bytes_per_s)

    def test_needs_enough_samples_and_span(self):
        rate = monitor.FillRate()
        rate.add(monitor.Sample(0.0, GIB, 0, GIB, 0, 0))
        rate.add(monitor.Sample(1.0, GIB, GIB // 2, GIB // 2, 0, 0))
        self.assertEqual(0.0, rate.bytes_per_s)
        rate.add(monitor.Sample(2.0, GIB, GIB // 2, GIB // 2, 0, 0))
        self.assertEqual(0.0, rate.bytes_per_s)
        rate.add(monitor.Sample(6.0, GIB, GIB // 2, GIB // 2, 0, 0))
        self.assertGreater(rate.bytes_per_s, 0)
