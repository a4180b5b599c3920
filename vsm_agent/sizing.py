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

"""Sizing: how many GiB to ask for.

Four policies (``[sizing] policy``) compute a *step*; the request is for
``current + step`` GiB, an absolute size:

============  ===========================================================
``fixed``     ``fixed_gb``
``percent``   ``percent`` of the current size, clamped to
              [``min_step_gb``, ``max_step_gb``]
``adaptive``  ``adaptive_base_gb`` × ``adaptive_factor`` ^ (grows of this
              volume within ``adaptive_window_s``): start small, ask more
              when it fills often; at most ``max_step_gb``
``forecast``  fill rate × ``forecast_horizon_s`` (room for that long at
              the current rate), at least ``min_step_gb``
============  ===========================================================

Whatever the policy, the step is then raised so the grown volume is back
below the used % threshold (asking for too little only means asking
again at once), rounded **up** to whole GiB, at least 1, and the target
is capped at ``max_size_gb``. At the cap :func:`plan_step` returns a
:class:`SizeDecision` with ``requested_gb`` ``None`` and says why.

Use it like this::

    policy = sizing.SizingPolicy.from_conf(conf)
    decision = policy.plan_step(current_gb=10, used_bytes=...,
                                used_pct_threshold=80, recent_grows=2,
                                fill_rate_bps=1.5e6)
    decision.requested_gb, decision.explain
"""

import dataclasses
import math
import typing

from oslo_config import cfg

GROUP = 'sizing'
GIB = 1024 ** 3

sizing_opts = [
    cfg.StrOpt('policy', default='adaptive',
               choices=['fixed', 'percent', 'adaptive', 'forecast'],
               help='How the increment is computed.'),
    cfg.IntOpt('fixed_gb', default=5, min=1,
               help='fixed: GiB added per request.'),
    cfg.FloatOpt('percent', default=20.0, min=0.1,
                 help='percent: increment as a percentage of the current '
                      'size.'),
    cfg.IntOpt('min_step_gb', default=1, min=1,
               help='Smallest increment (percent, forecast).'),
    cfg.IntOpt('max_step_gb', default=100, min=1,
               help='Largest increment (percent, adaptive).'),
    cfg.IntOpt('adaptive_base_gb', default=2, min=1,
               help='adaptive: first increment.'),
    cfg.FloatOpt('adaptive_factor', default=2.0, min=1.0,
                 help='adaptive: each recent grow multiplies the '
                      'increment by this.'),
    cfg.IntOpt('adaptive_window_s', default=7 * 86400, min=60,
               help='adaptive: grows within this many seconds count as '
                    'recent.'),
    cfg.IntOpt('forecast_horizon_s', default=6 * 3600, min=60,
               help='forecast: ask for room for this many seconds of '
                    'filling at the current rate.'),
    cfg.IntOpt('max_size_gb', default=2048, min=1,
               help='Never ask for a volume larger than this (GiB).'),
]


def list_opts():
    return [(GROUP, sizing_opts)]


@dataclasses.dataclass(frozen=True)
class SizeDecision:
    """The outcome of sizing: a target size, or why there is none."""

    requested_gb: typing.Optional[int]
    step_gb: int
    explain: str


@dataclasses.dataclass(frozen=True)
class SizingPolicy:
    policy: str = 'adaptive'
    fixed_gb: int = 5
    percent: float = 20.0
    min_step_gb: int = 1
    max_step_gb: int = 100
    adaptive_base_gb: int = 2
    adaptive_factor: float = 2.0
    adaptive_window_s: int = 7 * 86400
    forecast_horizon_s: int = 6 * 3600
    max_size_gb: int = 2048

    @classmethod
    def from_conf(cls, conf) -> 'SizingPolicy':
        group = conf[GROUP]
        return cls(**{opt.dest: group[opt.dest] for opt in sizing_opts})

    def _policy_step(self, current_gb, recent_grows, fill_rate_bps
                     ) -> typing.Tuple[float, str]:
        if self.policy == 'fixed':
            return self.fixed_gb, 'fixed %d GiB' % self.fixed_gb
        if self.policy == 'percent':
            raw = current_gb * self.percent / 100.0
            step = min(max(raw, self.min_step_gb), self.max_step_gb)
            return step, '%g%% of %d GiB = %.2f GiB, clamped to [%d, %d]' % (
                self.percent, current_gb, raw, self.min_step_gb,
                self.max_step_gb)
        if self.policy == 'adaptive':
            raw = self.adaptive_base_gb * self.adaptive_factor ** recent_grows
            step = min(raw, self.max_step_gb)
            return step, ('adaptive %d GiB x %g^%d recent grows = %g GiB'
                          % (self.adaptive_base_gb, self.adaptive_factor,
                             recent_grows, raw))
        if self.policy == 'forecast':
            rate = max(fill_rate_bps or 0.0, 0.0)
            raw = rate * self.forecast_horizon_s / GIB
            step = max(raw, self.min_step_gb)
            return step, ('forecast %.1f MB/s x %ds = %.2f GiB'
                          % (rate / 1e6, self.forecast_horizon_s, raw))
        raise ValueError('unknown sizing policy %r' % self.policy)

    def plan_step(self, current_gb: int, used_bytes: int = 0,
                  used_pct_threshold: float = 0.0, recent_grows: int = 0,
                  fill_rate_bps: float = 0.0) -> SizeDecision:
        """The size to ask for (absolute GiB), never 0, never past the cap."""
        if current_gb >= self.max_size_gb:
            return SizeDecision(None, 0, 'volume is %d GiB, at or above '
                                'max_size_gb %d' % (current_gb,
                                                    self.max_size_gb))
        step, explain = self._policy_step(current_gb, recent_grows,
                                          fill_rate_bps)
        if used_pct_threshold > 0 and used_bytes > 0:
            # The smallest volume on which used_bytes is under threshold.
            needed = used_bytes / (used_pct_threshold / 100.0) / GIB
            if needed - current_gb > step:
                step = needed - current_gb
                explain += ('; raised to %.2f GiB to get below %g%% used'
                            % (step, used_pct_threshold))
        step_gb = max(1, int(math.ceil(step - 1e-9)))
        target = current_gb + step_gb
        if target > self.max_size_gb:
            target = self.max_size_gb
            explain += '; capped at max_size_gb %d' % self.max_size_gb
        return SizeDecision(target, target - current_gb,
                            '%s -> +%d GiB' % (explain, target - current_gb))


def recent_grow_count(grow_timestamps: typing.Iterable[float], now: float,
                      window_s: float) -> int:
    """How many grows of a volume happened within the adaptive window."""
    return sum(1 for ts in grow_timestamps if now - ts <= window_s)
