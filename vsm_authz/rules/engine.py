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

"""The engine: runs the rules in order and returns one :class:`Decision`.

The default order (:func:`build_engine`) and why::

    sanity         cheap, and every later rule assumes target > size
    step           round small asks up, cut big ones down …
    max_size       … but never past the hard maximum
    cooldown       time-based caps on the volume's grant history
    rate
    runaway
    cinder_quota   fit Cinder's quotas (may clamp down)
    unified_limit  fit the Keystone limit (may clamp down; the only rule
                   that calls out, to Keystone, with a cache)
    escalation     last: only a grantable request becomes pending

The first rule that denies (or sends for approval) ends the evaluation;
a rule may instead *clamp* the target, and later rules check the clamped
size. With nothing in the way the outcome is ``grant`` with reason
``ok``; the message lists every clamp (``asked 40 GiB; step: 40→30``).

Dry-run (``policy.dry_run`` or ``ctx.dry_run``): the rules run as usual,
then a grant or a pending outcome becomes a **denial** with reason
``dry_run``, ``would_grant_gb`` = the size a real run would have granted
and ``retry_after`` = now + max(cooldown, 60 s) — so the agent keeps
asking at the pace it would in production, nothing is extended, and the
audit log shows, request by request, what VSM would have done. Real
denials stay denials (with their real reason).

:meth:`Engine.decide` never raises for anything in the context; it raises
:class:`vsm_authz.keystone_limits.LimitServiceUnavailable` when Keystone
cannot be asked — a transient failure the caller retries, not a decision.
"""

from oslo_log import log as logging

from vsm_agent import protocol
from vsm_authz import keystone_limits
from vsm_authz.rules import base
from vsm_authz.rules import escalation
from vsm_authz.rules import quota
from vsm_authz.rules import rate
from vsm_authz.rules import size
from vsm_authz.rules import unified_limit

LOG = logging.getLogger(__name__)

DRY_RUN_MIN_RETRY_SECONDS = 60


class Engine:
    """An ordered list of :class:`~vsm_authz.rules.base.Rule`."""

    def __init__(self, rules):
        self.rules = list(rules)

    def decide(self, ctx: base.DecisionContext) -> base.Decision:
        size_gb = ctx.volume.size_gb
        target = ctx.request.requested_gb
        clamps = []
        decision = None
        for rule in self.rules:
            result = rule.apply(ctx, target)
            if isinstance(result, base.Decision):
                decision = result
                break
            if result <= size_gb:
                # A rule bug must not turn into a shrink or a no-op extend.
                raise AssertionError('rule %s returned %d GiB for a %d GiB '
                                     'volume' % (rule.name, result, size_gb))
            if result != target:
                clamps.append('%s: %d→%d' % (rule.name, target, result))
                target = result
        if decision is None:
            decision = base.Decision(
                outcome=base.GRANT, size_gb=target,
                reason=protocol.Reason.OK,
                message='grow volume %s from %d to %d GiB (asked %d GiB%s)'
                        % (ctx.volume.volume_id, size_gb, target,
                           ctx.request.requested_gb,
                           '; ' + ', '.join(clamps) if clamps else ''),
                rule=clamps[-1].split(':')[0] if clamps else 'engine')
        # A denial stays one: no need to read the policy for it.
        if decision.outcome != base.DENY and (ctx.dry_run
                                              or ctx.policy.dry_run):
            decision = self._dry_run(ctx, decision)
        LOG.debug('volume %(vol)s request %(rid)s: %(outcome)s %(size)d GiB '
                  '(%(reason)s, rule %(rule)s)',
                  {'vol': ctx.volume.volume_id,
                   'rid': ctx.request.request_id,
                   'outcome': decision.outcome, 'size': decision.size_gb,
                   'reason': decision.reason, 'rule': decision.rule})
        return decision

    @staticmethod
    def _dry_run(ctx, decision):
        wait = max(ctx.policy.cooldown_seconds, DRY_RUN_MIN_RETRY_SECONDS)
        return base.Decision(
            outcome=base.DENY, size_gb=ctx.volume.size_gb,
            reason=protocol.Reason.DRY_RUN,
            message='dry run: would have %s (%s)'
                    % ('granted %d GiB' % decision.size_gb
                       if decision.outcome == base.GRANT
                       else 'asked for approval of %d GiB'
                       % decision.size_gb, decision.message),
            retry_after=base.to_epoch(ctx.now) + wait,
            rule='dry_run', would_grant_gb=decision.size_gb)


def default_rules(checker=None,
                  not_in_use_retry_seconds=size.TRANSIENT_RETRY_SECONDS):
    """The rules in their default order; ``checker`` None leaves out the
    Keystone limit."""
    rules = [size.RequestSanityRule(not_in_use_retry_seconds),
             size.StepRule(), size.MaxSizeRule(),
             rate.CooldownRule(), rate.RateCapRule(), rate.RunawayRule(),
             quota.CinderQuotaRule()]
    if checker is not None:
        rules.append(unified_limit.UnifiedLimitRule(checker))
    rules.append(escalation.EscalationRule())
    return rules


def build_engine(conf, enforcer=None) -> Engine:
    """The engine the service uses.

    :param enforcer: a :class:`vsm_authz.keystone_limits.LimitChecker` (or a
        fake with its ``check``); default: a real one when ``[unified_limits]
        enabled`` (the default).
    """
    if enforcer is None and conf.unified_limits.enabled:
        enforcer = keystone_limits.LimitChecker(conf)
    if enforcer is None:
        LOG.warning('[unified_limits] enabled = False: grants are bounded '
                    'by the expansion policy and Cinder quotas only')
    return Engine(default_rules(
        enforcer, conf.pipeline.not_in_use_retry_seconds))
