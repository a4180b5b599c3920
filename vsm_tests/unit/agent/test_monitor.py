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

"""Samples and the fill-rate estimate."""

import testtools

from vsm_agent import monitor

GIB = 1024 ** 3


class TestFillRate(testtools.TestCase):

    def test_linear_fill(self):
        rate = monitor.FillRate(window_s=100)
        for t in range(10):
            rate.add(monitor.Sample(
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
