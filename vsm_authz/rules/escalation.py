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

"""Escalation to a human: the first grows are automatic, later ones need
an operator's approval (the seed's semi-automatic mode)."""

from vsm_agent import protocol
from vsm_authz.rules import base


class EscalationRule(base.Rule):
    """After ``auto_grants_before_approval`` automatic grants of a volume,
    the next request waits for a human (0 = never).

    Counted: automatic grants since the volume's last *approved* (manual)
    grant, so each approval buys another N automatic grows.

    ========================================= ==========================
    fact                                       decision
    ========================================= ==========================
    automatic grants since last approval >= N  ``pending``, reason
                                               ``approval``, size = target
                                               (what approval would grant)
    otherwise                                  pass
    ========================================= ==========================

    It runs last, after every cap and limit, so a pending request is one
    that could be granted as it stands.
    """

    name = 'escalation'

    def apply(self, ctx, target_gb):
        threshold = ctx.policy.auto_grants_before_approval
        if not threshold:
            return target_gb
        automatic = 0
        for grant in sorted(ctx.volume_history,
                            key=lambda g: base.utc_naive(g.at)):
            automatic = automatic + 1 if grant.automatic else 0
        if automatic < threshold:
            return target_gb
        return base.Decision(
            outcome=base.PENDING, size_gb=target_gb,
            reason=protocol.Reason.APPROVAL,
            message='volume %s was grown automatically %d times since the '
                    'last approval (threshold %d): growing it to %d GiB '
                    'needs an operator' % (ctx.volume.volume_id, automatic,
                                           threshold, target_gb),
            rule=self.name)
