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

"""The Keystone unified limit (see :mod:`vsm_authz.keystone_limits` for
what the resource measures and how Keystone must be set up)."""

from vsm_agent import protocol
from vsm_authz import keystone_limits
from vsm_authz.rules import base


class UnifiedLimitRule(base.Rule):
    """Fit the grant into the project's Keystone limit.

    usage = ``ctx.project_usage_gb`` (all the project's Cinder GiB),
    delta = target − Cinder size.

    ========================================= ==========================
    fact                                       decision
    ========================================= ==========================
    usage + delta <= limit                     pass
    over, but limit − usage >=                 clamp target to size +
    max(min_step_gb, 1)                        (limit − usage)
    over, less headroom than that              deny ``over_limit`` (stop)
    resource not registered in Keystone        deny ``limit_unregistered``
                                               (stop; the message names
                                               the fix)
    Keystone unreachable                       raises
                                               ``LimitServiceUnavailable``
                                               — not a decision: retry
    ========================================= ==========================

    Clamping rather than denying when some room is left: the guest gets
    what the tenant can still afford, and the next request is denied with
    ``over_limit`` once nothing is left.
    """

    name = 'unified_limit'

    def __init__(self, checker):
        self.checker = checker

    def apply(self, ctx, target_gb):
        size = ctx.volume.size_gb
        try:
            self.checker.check(ctx.volume.project_id, ctx.project_usage_gb,
                               target_gb - size)
        except keystone_limits.LimitNotRegistered as exc:
            return self.deny(ctx, protocol.Reason.LIMIT_UNREGISTERED,
                             str(exc))
        except keystone_limits.OverLimit as exc:
            if exc.headroom >= max(ctx.policy.min_step_gb, 1):
                return size + exc.headroom
            return self.deny(
                ctx, protocol.Reason.OVER_LIMIT,
                'project %s has used %d of its %d GiB limit (%s); growing '
                'volume %s by %d GiB would exceed it'
                % (ctx.volume.project_id, exc.usage, exc.limit,
                   exc.resource_name, ctx.volume.volume_id, exc.delta))
        return target_gb
