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

"""Every trigger as a decision table: breaches, hysteresis, intervals,
usage classes."""

import fixtures
import testtools

from vsm_agent import monitor
from vsm_agent import triggers
from vsm_tests.unit.agent import fakes

GIB = 1024 ** 3


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
