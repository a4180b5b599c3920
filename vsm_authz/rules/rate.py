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

"""Rules about how often and how fast a volume grows: cooldown, rate
caps, runaway-growth cap. All read ``ctx.volume_history`` (grants,
including those whose extend later failed)."""

from vsm_agent import protocol
from vsm_authz.rules import base


def _grant_times(ctx):
    return sorted(base.utc_naive(g.at) for g in ctx.volume_history)


class CooldownRule(base.Rule):
    """At least ``cooldown_seconds`` between two grants of a volume
    (0 = off).

    ================================== ===============================
    fact                                decision
    ================================== ===============================
    last grant + cooldown > now         deny ``cooldown``, retry_after =
                                        last grant + cooldown
    otherwise                           pass
    ================================== ===============================
    """

    name = 'cooldown'

    def apply(self, ctx, target_gb):
        cooldown = ctx.policy.cooldown_seconds
        times = _grant_times(ctx)
        if not cooldown or not times:
            return target_gb
        ready = times[-1] + base.seconds(cooldown)
        if ready > base.utc_naive(ctx.now):
            return self.deny(
                ctx, protocol.Reason.COOLDOWN,
                'volume %s was last grown at %s; the cooldown is %d s'
                % (ctx.volume.volume_id, times[-1].isoformat(), cooldown),
                retry_after=base.to_epoch(ready))
        return target_gb


class RateCapRule(base.Rule):
    """At most ``max_grants_per_hour`` / ``max_grants_per_day`` grants of
    a volume in any sliding hour / day (0 = no cap).

    ================================== ===============================
    fact                                decision
    ================================== ===============================
    grants in the last hour >= cap      deny ``rate``, retry_after = when
    (same for the day)                  the oldest grant that must expire
                                        leaves the window
    otherwise                           pass
    ================================== ===============================
    """

    name = 'rate'

    def apply(self, ctx, target_gb):
        now = base.utc_naive(ctx.now)
        times = _grant_times(ctx)
        for cap, window, label in (
                (ctx.policy.max_grants_per_hour, 3600, 'hour'),
                (ctx.policy.max_grants_per_day, 86400, 'day')):
            if not cap:
                continue
            recent = [t for t in times if t > now - base.seconds(window)]
            if len(recent) >= cap:
                # The window frees a slot once enough of the oldest
                # grants have left it to bring the count below the cap.
                freed = recent[len(recent) - cap] + base.seconds(window)
                return self.deny(
                    ctx, protocol.Reason.RATE,
                    'volume %s was grown %d times in the last %s (cap %d)'
                    % (ctx.volume.volume_id, len(recent), label, cap),
                    retry_after=base.to_epoch(freed))
        return target_gb


class RunawayRule(base.Rule):
    """Stop a volume that grows too much too fast: within any
    ``runaway_window_seconds``, the target may be at most
    ``runaway_factor`` × the size the volume had at the start of the
    window (0 = off).

    The baseline is the ``from_gb`` of the first grant inside the window
    (sizes only grow, so that is the smallest size seen in it), or the
    current size if nothing was granted in the window — for a volume VSM
    saw for the first time within the window that is its original size.

    ================================== ===============================
    fact                                decision
    ================================== ===============================
    target > factor × baseline          deny ``runaway`` (stop: a human
                                        should look at what fills it)
    otherwise                           pass
    ================================== ===============================
    """

    name = 'runaway'

    def apply(self, ctx, target_gb):
        factor = ctx.policy.runaway_factor
        if not factor:
            return target_gb
        since = base.utc_naive(ctx.now) - base.seconds(
            ctx.policy.runaway_window_seconds)
        in_window = sorted((g for g in ctx.volume_history
                            if base.utc_naive(g.at) > since),
                           key=lambda g: base.utc_naive(g.at))
        baseline = in_window[0].from_gb if in_window else ctx.volume.size_gb
        ceiling = int(baseline * factor)
        if target_gb > ceiling:
            return self.deny(
                ctx, protocol.Reason.RUNAWAY,
                'volume %s would grow to %d GiB, more than %g x its size '
                '%d GiB within %d s (original size %d GiB): runaway growth'
                % (ctx.volume.volume_id, target_gb, factor, baseline,
                   ctx.policy.runaway_window_seconds,
                   ctx.volume.original_size_gb))
        return target_gb
