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

"""Rules about the size asked for: sanity, step bounds, hard maximum."""

from vsm_agent import protocol
from vsm_authz.rules import base

#: Cinder statuses that pass by themselves: ask again a bit later.
TRANSIENT_STATUSES = frozenset({'extending', 'attaching', 'detaching',
                                'reserved', 'backing-up', 'retyping',
                                'maintenance'})
#: Default of ``[pipeline] not_in_use_retry_seconds``.
TRANSIENT_RETRY_SECONDS = 60


class RequestSanityRule(base.Rule):
    """The volume must be attached, extendable online and smaller than
    the size asked for.

    ============================== ======================================
    fact                            decision
    ============================== ======================================
    status is transient             deny ``not_in_use``, retry in
    (``extending``, ``attaching``…) ``retry_seconds`` (``[pipeline]
                                    not_in_use_retry_seconds``, 60 s)
    status is anything else but     deny ``not_in_use`` (stop)
    ``in-use``
    the back end cannot extend      deny ``no_online_extend`` (stop)
    attached volumes
    want <= Cinder size             deny ``size_mismatch``: the volume is
                                    already that large (the guest missed
                                    a grow; it should rescan, not ask)
    otherwise                       pass, target = want
    ============================== ======================================

    The guest's own ``cur`` is never used: only Cinder's size counts.
    """

    name = 'sanity'

    def __init__(self, retry_seconds=TRANSIENT_RETRY_SECONDS):
        self.retry_seconds = retry_seconds

    def apply(self, ctx, target_gb):
        volume = ctx.volume
        if volume.status != 'in-use':
            retry = None
            if volume.status in TRANSIENT_STATUSES:
                retry = base.to_epoch(ctx.now) + self.retry_seconds
            return self.deny(
                ctx, protocol.Reason.NOT_IN_USE,
                'volume %s is %s, not in-use: only attached volumes are '
                'extended online' % (volume.volume_id, volume.status),
                retry_after=retry)
        if volume.online_extend_support is False:
            return self.deny(
                ctx, protocol.Reason.NO_ONLINE_EXTEND,
                'the back end of volume %s (%s) cannot extend attached '
                'volumes' % (volume.volume_id, volume.host))
        if ctx.request.requested_gb <= volume.size_gb:
            return self.deny(
                ctx, protocol.Reason.SIZE_MISMATCH,
                'asked for %d GiB but volume %s is already %d GiB in '
                'Cinder (guest reported %d GiB)'
                % (ctx.request.requested_gb, volume.volume_id,
                   volume.size_gb, ctx.request.current_gb))
        return target_gb


class StepRule(base.Rule):
    """Bound the growth of one grant: ``min_step_gb <= delta <=
    max_step_gb`` (``max_step_gb`` 0 = no upper bound).

    ===================== ==============================================
    delta asked            target
    ===================== ==============================================
    < min_step_gb          raised to size + min_step_gb (small asks are
                           rounded up: fewer, larger extends)
    > max_step_gb > 0      lowered to size + max_step_gb
    otherwise              unchanged
    ===================== ==============================================

    Never denies. Runs before :class:`MaxSizeRule`, so the hard maximum
    wins over the minimum step near the top.
    """

    name = 'step'

    def apply(self, ctx, target_gb):
        size = ctx.volume.size_gb
        policy = ctx.policy
        delta = target_gb - size
        if delta < policy.min_step_gb:
            delta = policy.min_step_gb
        if policy.max_step_gb and delta > policy.max_step_gb:
            delta = policy.max_step_gb
        return size + max(delta, 1)


class MaxSizeRule(base.Rule):
    """Never grow a volume past ``max_size_gb`` (0 = no cap).

    ====================================== ==========================
    fact                                    decision
    ====================================== ==========================
    size >= max_size_gb                     deny ``max_size`` (stop)
    target > max_size_gb > size             clamp target to the max
    otherwise                               pass
    ====================================== ==========================
    """

    name = 'max_size'

    def apply(self, ctx, target_gb):
        maximum = ctx.policy.max_size_gb
        if not maximum or target_gb <= maximum:
            return target_gb
        if ctx.volume.size_gb >= maximum:
            return self.deny(
                ctx, protocol.Reason.MAX_SIZE,
                'volume %s is %d GiB, at or above the maximum size of %d '
                'GiB' % (ctx.volume.volume_id, ctx.volume.size_gb, maximum))
        return maximum
