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

"""Monitoring: usage samples per mount and a fill-rate estimate.

One :func:`sample` is one ``statvfs(2)`` call: bytes and inodes as an
unprivileged user sees them (``f_bavail``, like ``df``), so the reserved
blocks of ext4 count as used, which is what a user filling the disk hits.

:class:`FillRate` keeps the last samples of a mount in a bounded window and
estimates how fast it fills (least squares over the window, bytes/s) and
so its time to full. A change of the filesystem's size (a grow, or
another filesystem mounted there) starts a new window: otherwise an
unmount and re-mount would look like a burst of writing. Usage::

    rate = monitor.FillRate(window_s=300)
    s = monitor.sample('/srv/data', now=time.time())
    rate.add(s)
    rate.bytes_per_s, rate.time_to_full_s(s)

Cost: a sample is one syscall and a small object; ten mounts sampled
every two seconds are far below 0.1 % of a core.
"""

import collections
import dataclasses
import os
import typing


@dataclasses.dataclass(frozen=True)
class Sample:
    """Usage of one filesystem at one moment."""

    timestamp: float
    size_bytes: int
    used_bytes: int
    avail_bytes: int
    inodes: int
    inodes_free: int

    @property
    def used_pct(self) -> float:
        # As df computes it: used / (used + available to users).
        usable = self.used_bytes + self.avail_bytes
        return 100.0 * self.used_bytes / usable if usable else 0.0

    @property
    def free_pct(self) -> float:
        return 100.0 - self.used_pct

    @property
    def inode_used_pct(self) -> typing.Optional[float]:
        # btrfs (and others) report 0 inodes: inode limits do not apply.
        if self.inodes <= 0:
            return None
        return 100.0 * (self.inodes - self.inodes_free) / self.inodes


def sample(mountpoint: str, now: float) -> Sample:
    """One statvfs of ``mountpoint``.

    :raises OSError: if the mount vanished or cannot be read.
    """
    st = os.statvfs(mountpoint)
    size = st.f_blocks * st.f_frsize
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    return Sample(timestamp=now, size_bytes=size, used_bytes=used,
                  avail_bytes=st.f_bavail * st.f_frsize,
                  inodes=st.f_files, inodes_free=st.f_ffree)


#: A fill rate needs this many samples over this many seconds.
MIN_SAMPLES = 3
MIN_SPAN_S = 5.0


class FillRate:
    """Fill rate of one mount over a sliding window of samples."""

    def __init__(self, window_s: float = 300.0, max_samples: int = 64):
        self.window_s = window_s
        self._samples: typing.Deque[Sample] = collections.deque(
            maxlen=max_samples)

    def add(self, s: Sample) -> None:
        if self._samples and self._samples[-1].size_bytes != s.size_bytes:
            # A grown, or a different (re-mounted), filesystem: the old
            # samples say nothing about how this one fills.
            self._samples.clear()
        self._samples.append(s)
        while (len(self._samples) > 2
               and s.timestamp - self._samples[0].timestamp > self.window_s):
            self._samples.popleft()

    def reset(self) -> None:
        self._samples.clear()

    @property
    def bytes_per_s(self) -> float:
        """Least-squares slope of used bytes over time (0 if unknown).

        Needs at least MIN_SAMPLES samples spanning MIN_SPAN_S seconds: two
        samples around one burst are not a rate.
        """
        n = len(self._samples)
        if n < MIN_SAMPLES or (self._samples[-1].timestamp
                               - self._samples[0].timestamp) < MIN_SPAN_S:
            return 0.0
        t0 = self._samples[0].timestamp
        xs = [s.timestamp - t0 for s in self._samples]
        ys = [float(s.used_bytes) for s in self._samples]
        mx, my = sum(xs) / n, sum(ys) / n
        var = sum((x - mx) ** 2 for x in xs)
        if var <= 0:
            return 0.0
        return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var

    def time_to_full_s(self, s: Sample) -> typing.Optional[float]:
        """Seconds until ``s.avail_bytes`` is used up; None if not filling."""
        rate = self.bytes_per_s
        if rate <= 0:
            return None
        return s.avail_bytes / rate


@dataclasses.dataclass
class MountView:
    """What the daemon knows about one mount between samples.

    ``mount`` is a :class:`vsm_agent.discovery.Mount`, ``thresholds`` its
    :class:`vsm_agent.triggers.Thresholds`, ``verdict`` the last
    :class:`vsm_agent.triggers.Verdict`.
    """

    mount: typing.Any
    thresholds: typing.Any
    fill: FillRate
    sample: typing.Optional[Sample] = None
    verdict: typing.Any = None
    time_to_full_s: typing.Optional[float] = None
    next_sample_at: float = 0.0
    error: typing.Optional[str] = None

    def observe(self, now: float, tracker, near_margin_pct: float):
        """Sample the mount and evaluate its trigger; returns the verdict.

        ``tracker`` is the :class:`vsm_agent.triggers.BreachTracker` that
        counts consecutive breaches.

        :raises OSError: if the mount cannot be sampled.
        """
        s = sample(self.mount.mountpoint, now)
        self.error = None
        self.sample = s
        self.fill.add(s)
        self.time_to_full_s = self.fill.time_to_full_s(s)
        self.verdict = tracker.evaluate(
            self.mount.mountpoint, self.thresholds, s, self.time_to_full_s,
            near_margin_pct)
        return self.verdict


def volume_views(views: typing.Mapping[str, MountView], volume_id: str
                 ) -> typing.List[MountView]:
    """The expandable mounts of one volume (LVM and partitions may put
    several filesystems on it)."""
    return [v for v in views.values()
            if v.mount.volume_id == volume_id and v.mount.expandable]
