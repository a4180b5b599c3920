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

"""Triggers: when a mount needs more space.

A mount is checked against its :class:`Thresholds` on every sample:

=================  ===================================  ===========
condition          breached when                        reason code
=================  ===================================  ===========
``used_pct``       used % >= used_pct                   used_pct
``free_pct``       free % <= free_pct                   free_pct
``free_bytes_mb``  available MiB <= free_bytes_mb        free_bytes
``inode_used_pct`` inodes used % >= inode_used_pct       inodes
``lead_time_s``    projected time to full < lead_time   predicted
``emergency_*``    used % >= emergency_used_pct or      emergency
                   available MiB <= emergency_free_mb
=================  ===================================  ===========

A condition set to 0 is off. ``combine = any`` fires when one enabled
threshold condition is breached, ``all`` when every enabled one is (the
predictive trigger always counts on its own). A breach must be
**sustained** for ``sustained_samples`` consecutive samples before it
fires, so a short spike (a build's temporary files) asks for nothing; an
**emergency** fires on the first sample.

Usage classes give groups of mounts their own thresholds: ``[triggers]
usage_classes = /srv/code*=code, /data*=data`` (first match wins) and a
``[usage_class:code]`` section overriding any of the options above; what
it leaves out falls back to ``[triggers]``.

Use it like this::

    classes = triggers.UsageClasses.from_conf(conf)
    thresholds = classes.thresholds_for('/srv/data')
    tracker = triggers.BreachTracker()
    verdict = tracker.evaluate('/srv/data', thresholds, sample, time_to_full)
    verdict.fire, verdict.reason
    verdict.state    # 'ok', 'near', 'breach', 'firing'
    triggers.next_interval(thresholds, sample, verdict, base=2, minimum=0.5)
"""

import copy
import dataclasses
import fnmatch
import typing

from oslo_config import cfg

from vsm_agent import protocol

GROUP = 'triggers'
CLASS_GROUP_PREFIX = 'usage_class:'

threshold_opts = [
    cfg.FloatOpt('used_pct', default=80.0, min=0, max=100,
                 help='Ask for more space when this percentage of the '
                      'filesystem is used (0: off).'),
    cfg.FloatOpt('free_pct', default=0.0, min=0, max=100,
                 help='Ask when the free percentage drops to this (0: off).'),
    cfg.IntOpt('free_bytes_mb', default=0, min=0,
               help='Ask when available space drops to this many MiB '
                    '(a floor for large volumes; 0: off).'),
    cfg.FloatOpt('inode_used_pct', default=90.0, min=0, max=100,
                 help='Ask when this percentage of inodes is used (0: off; '
                      'ignored on filesystems without inode limits).'),
    cfg.StrOpt('combine', default='any', choices=['any', 'all'],
               help='Fire when any enabled threshold is breached, or only '
                    'when all are.'),
    cfg.IntOpt('sustained_samples', default=2, min=1,
               help='Consecutive breached samples before asking (filters '
                    'spikes).'),
    cfg.FloatOpt('emergency_used_pct', default=95.0, min=0, max=100,
                 help='Ask at once, skipping sustained_samples, above this '
                      'used percentage (0: off).'),
    cfg.IntOpt('emergency_free_mb', default=0, min=0,
               help='Ask at once when available space drops to this many '
                    'MiB (0: off).'),
    cfg.IntOpt('lead_time_s', default=300, min=0,
               help='Predictive trigger: ask when the projected time to '
                    'full is shorter than this many seconds (the time an '
                    'expansion takes end to end, with margin; 0: off).'),
]

class_opts = [
    cfg.ListOpt('usage_classes', default=[],
                help='"<mountpoint pattern>=<class>" pairs, first match '
                     'wins; a [usage_class:<class>] section overrides the '
                     'threshold options for those mounts.'),
    cfg.FloatOpt('near_margin_pct', default=10.0, min=0, max=100,
                 help='Within this many percentage points of used_pct the '
                      'sampling interval shortens towards min_interval.'),
]


def list_opts():
    return [(GROUP, threshold_opts + class_opts)]


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """The trigger policy of one usage class."""

    used_pct: float = 80.0
    free_pct: float = 0.0
    free_bytes_mb: int = 0
    inode_used_pct: float = 90.0
    combine: str = 'any'
    sustained_samples: int = 2
    emergency_used_pct: float = 95.0
    emergency_free_mb: int = 0
    lead_time_s: int = 300
    usage_class: str = 'default'

    @classmethod
    def from_group(cls, group, fallback: typing.Optional['Thresholds'] = None,
                   usage_class: str = 'default') -> 'Thresholds':
        values = {}
        for opt in threshold_opts:
            value = group[opt.dest]
            if value is None and fallback is not None:
                value = getattr(fallback, opt.dest)
            values[opt.dest] = value
        return cls(usage_class=usage_class, **values)


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What the trigger says about one sample."""

    #: ok | near | breach | firing
    state: str
    fire: bool
    reason: typing.Optional[str] = None
    breached: typing.Tuple[str, ...] = ()
    streak: int = 0
    needed: int = 1

    def describe(self) -> str:
        if self.state == 'breach':
            return 'breach %d/%d (%s)' % (self.streak, self.needed,
                                          ','.join(self.breached))
        if self.state == 'firing':
            return 'firing (%s)' % self.reason
        return self.state


def breached_conditions(t: Thresholds, s, time_to_full_s=None
                        ) -> typing.Tuple[bool, typing.List[str],
                                          typing.Optional[str]]:
    """(threshold breach?, breached reason codes, emergency reason).

    Pure function of the policy and one sample: the decision table the
    unit tests walk.
    """
    mib = 1024 * 1024
    checks = []
    if t.used_pct > 0:
        checks.append((protocol.Reason.USED_PCT, s.used_pct >= t.used_pct))
    if t.free_pct > 0:
        checks.append((protocol.Reason.FREE_PCT, s.free_pct <= t.free_pct))
    if t.free_bytes_mb > 0:
        checks.append((protocol.Reason.FREE_BYTES,
                       s.avail_bytes <= t.free_bytes_mb * mib))
    inode_pct = s.inode_used_pct
    if t.inode_used_pct > 0 and inode_pct is not None:
        checks.append((protocol.Reason.INODES,
                       inode_pct >= t.inode_used_pct))
    breached = [code for code, hit in checks if hit]
    if t.combine == 'all':
        threshold_breach = bool(checks) and len(breached) == len(checks)
    else:
        threshold_breach = bool(breached)
    if (t.lead_time_s > 0 and time_to_full_s is not None
            and time_to_full_s < t.lead_time_s):
        breached.append(protocol.Reason.PREDICTED)
        threshold_breach = True
    emergency = None
    if ((t.emergency_used_pct > 0 and s.used_pct >= t.emergency_used_pct)
            or (t.emergency_free_mb > 0
                and s.avail_bytes <= t.emergency_free_mb * mib)):
        emergency = protocol.Reason.EMERGENCY
    return threshold_breach, breached, emergency


class BreachTracker:
    """Counts consecutive breached samples per mount (the hysteresis)."""

    def __init__(self):
        self._streaks: typing.Dict[str, int] = {}

    def reset(self, mountpoint: str) -> None:
        self._streaks.pop(mountpoint, None)

    def evaluate(self, mountpoint: str, t: Thresholds, s,
                 time_to_full_s=None, near_margin_pct: float = 10.0
                 ) -> Verdict:
        breach, codes, emergency = breached_conditions(t, s, time_to_full_s)
        if emergency:
            self._streaks[mountpoint] = self._streaks.get(mountpoint, 0) + 1
            return Verdict('firing', True, emergency, tuple(codes) or
                           (emergency,), self._streaks[mountpoint],
                           t.sustained_samples)
        if not breach:
            self._streaks.pop(mountpoint, None)
            near = (t.used_pct > 0
                    and s.used_pct >= t.used_pct - near_margin_pct)
            return Verdict('near' if near else 'ok', False, None, (), 0,
                           t.sustained_samples)
        streak = self._streaks.get(mountpoint, 0) + 1
        self._streaks[mountpoint] = streak
        reason = codes[0] if codes else protocol.Reason.USED_PCT
        if streak >= t.sustained_samples:
            return Verdict('firing', True, reason, tuple(codes), streak,
                           t.sustained_samples)
        return Verdict('breach', False, reason, tuple(codes), streak,
                       t.sustained_samples)


def next_interval(t: Thresholds, s, verdict: Verdict, base: float,
                  minimum: float, near_margin_pct: float = 10.0,
                  time_to_full_s=None) -> float:
    """Seconds until this mount should be sampled again.

    Full ``base`` interval far from the threshold, ``minimum`` in breach,
    and linearly in between inside ``near_margin_pct`` of ``used_pct``,
    so a filling disk is watched closely without costing anything when
    it is not.
    """
    if verdict.state in ('breach', 'firing'):
        return minimum
    if (time_to_full_s is not None and t.lead_time_s > 0
            and time_to_full_s < 2 * t.lead_time_s):
        return minimum
    if t.used_pct <= 0 or near_margin_pct <= 0:
        return base
    headroom = t.used_pct - s.used_pct
    if headroom >= near_margin_pct:
        return base
    if headroom <= 0:
        return minimum
    return minimum + (base - minimum) * headroom / near_margin_pct


class UsageClasses:
    """Mountpoint pattern -> usage class -> :class:`Thresholds`."""

    def __init__(self, default: Thresholds,
                 patterns: typing.Sequence[typing.Tuple[str, str]] = (),
                 classes: typing.Optional[
                     typing.Dict[str, Thresholds]] = None):
        self.default = default
        self.patterns = list(patterns)
        self.classes = dict(classes or {})

    @classmethod
    def from_conf(cls, conf) -> 'UsageClasses':
        default = Thresholds.from_group(conf[GROUP])
        patterns = []
        classes = {}
        for entry in conf[GROUP].usage_classes:
            pattern, sep, name = entry.rpartition('=')
            if not sep or not pattern or not name:
                raise ValueError('usage_classes entry %r is not '
                                 '"<pattern>=<class>"' % entry)
            patterns.append((pattern.strip(), name.strip()))
            if name.strip() not in classes:
                classes[name.strip()] = Thresholds.from_group(
                    register_class_group(conf, name.strip()),
                    fallback=default, usage_class=name.strip())
        return cls(default, patterns, classes)

    def class_for(self, mountpoint: str) -> str:
        for pattern, name in self.patterns:
            if fnmatch.fnmatchcase(mountpoint, pattern):
                return name
        return self.default.usage_class

    def thresholds_for(self, mountpoint: str) -> Thresholds:
        return self.classes.get(self.class_for(mountpoint), self.default)


def register_class_group(conf, name: str):
    """Register (once) and return the [usage_class:<name>] group."""
    group = CLASS_GROUP_PREFIX + name
    opts = []
    for opt in threshold_opts:
        # Same options, no defaults: an unset option falls back to
        # [triggers].
        clone = copy.copy(opt)
        clone.default = None
        opts.append(clone)
    try:
        conf.register_opts(opts, group=group)
    except cfg.DuplicateOptError:
        pass
    return conf[group]
