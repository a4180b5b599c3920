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

"""The decision engine's data types and the :class:`Rule` base class.

Everything here is plain data: rules never touch the database, Nova or
Cinder; :mod:`vsm_authz.facts` gathers the facts into a
:class:`DecisionContext` once per decision and the rules only read it.
(The unified-limit rule is the exception that proves it: it asks
Keystone through an injected :class:`vsm_authz.keystone_limits.LimitChecker`.)

Times are naive UTC datetimes (``oslo_utils.timeutils.utcnow()``, what
the database stores); aware datetimes are accepted and converted.
``retry_after`` is whole UNIX seconds, as on the wire.
"""

import calendar
import dataclasses
import datetime
import math
import typing

from vsm_agent import protocol

GRANT = 'grant'
DENY = 'deny'
PENDING = 'pending'
OUTCOMES = (GRANT, DENY, PENDING)


@dataclasses.dataclass(frozen=True)
class VolumeFacts:
    """The volume as Cinder and VSM's state know it (never the guest)."""

    volume_id: str
    project_id: str
    server_id: str
    #: Cinder's real size now.
    size_gb: int
    volume_type: typing.Optional[str]
    #: Cinder status ('in-use' when attached).
    status: str
    #: Size when VSM first saw the volume (``db.volumes.original_size``).
    original_size_gb: int
    #: Cinder host ``host@backend#pool`` (admin view attribute).
    host: typing.Optional[str] = None
    #: Can the back end extend attached volumes? None when nobody says
    #: (the extend is attempted and its failure handled).
    online_extend_support: typing.Optional[bool] = None


@dataclasses.dataclass(frozen=True)
class GrantRecord:
    """One past grant of the volume (``db.volumes.grant_history``)."""

    at: datetime.datetime
    from_gb: int
    to_gb: int
    #: False when a human approved it.
    automatic: bool


@dataclasses.dataclass
class DecisionContext:
    """Everything a decision may look at (:class:`vsm_authz.facts.Context`
    is the one the service builds: it reads the costly facts when a rule
    first asks for them).

    :ivar quota: Cinder's ``os-quota-sets/{project}?usage=True``
        ``quota_set`` dict: ``{'gigabytes': {'limit', 'in_use',
        'reserved'}, 'gigabytes_<type>': {...}, 'per_volume_gigabytes':
        {...}}``; ``-1`` means unlimited; missing entries are not checked.
    :ivar volume_history: the volume's grants, oldest first — pass the
        whole history (``grant_history(volume_id, since=None)``):
        escalation counts over all of it.
    :ivar project_usage_gb: the sum of the sizes of the project's Cinder
        volumes: the usage of the Keystone limit.
    :ivar dry_run: force dry-run for this decision (on top of the
        policy's ``dry_run``).
    """

    request: protocol.ExpansionRequest
    volume: VolumeFacts
    quota: dict
    volume_history: typing.List[GrantRecord]
    project_usage_gb: int
    policy: typing.Any  # vsm_authz.expansion_policy.ExpansionPolicy
    now: datetime.datetime
    dry_run: bool = False


@dataclasses.dataclass(frozen=True)
class Decision:
    """The engine's answer.

    :ivar outcome: ``'grant'`` | ``'deny'`` | ``'pending'``.
    :ivar size_gb: target size when granted/pending, the current (Cinder)
        size when denied — what ``vsm:resp:`` carries in ``size``.
    :ivar reason: a :class:`vsm_agent.protocol.Reason` code.
    :ivar message: one sentence for the audit log and the operator.
    :ivar retry_after: UNIX seconds from which the agent may ask again
        (cooldown, rate caps, transient volume states); None stops it.
    :ivar rule: name of the rule that decided (``'engine'`` for a grant
        nothing restricted).
    :ivar would_grant_gb: dry-run only: the size a real run would have
        granted (or sent for approval).
    """

    outcome: str
    size_gb: int
    reason: str
    message: str
    retry_after: typing.Optional[int] = None
    rule: str = ''
    would_grant_gb: typing.Optional[int] = None

    def __post_init__(self):
        if self.outcome not in OUTCOMES:
            raise ValueError('outcome must be one of %s, got %r'
                             % ('|'.join(OUTCOMES), self.outcome))

    @property
    def granted(self) -> bool:
        return self.outcome == GRANT

    def response_state(self) -> protocol.ResponseState:
        """The ``vsm:resp:`` state this decision is written as."""
        return {GRANT: protocol.ResponseState.GRANTED,
                DENY: protocol.ResponseState.DENIED,
                PENDING: protocol.ResponseState.PENDING}[self.outcome]


# --------------------------------------------------------------- time --

def utc_naive(moment: datetime.datetime) -> datetime.datetime:
    """``moment`` as a naive UTC datetime."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(
            tzinfo=None)
    return moment


def to_epoch(moment: datetime.datetime) -> int:
    """Whole UNIX seconds, rounded up (never tell the agent too early)."""
    moment = utc_naive(moment)
    return calendar.timegm(moment.utctimetuple()) + (
        1 if moment.microsecond else 0)


def seconds(value: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=value)


# --------------------------------------------------------------- rule --

class Rule:
    """One step of the decision.

    :meth:`apply` gets the context and the size the earlier rules left
    (``target_gb``, always > the volume's Cinder size) and returns either
    an ``int`` — the same target, or a smaller/larger one (a *clamp*),
    which must stay > the current size — or a :class:`Decision` (deny or
    pending) that ends the evaluation. Rules are stateless and
    thread-safe; one engine serves every worker thread.
    """

    #: Short name recorded in ``Decision.rule`` and the audit log.
    name = 'rule'

    def apply(self, ctx: DecisionContext, target_gb: int
              ) -> typing.Union[int, Decision]:
        raise NotImplementedError

    def deny(self, ctx, reason, message, retry_after=None) -> Decision:
        return Decision(outcome=DENY, size_gb=ctx.volume.size_gb,
                        reason=reason, message=message,
                        retry_after=retry_after, rule=self.name)

    def __repr__(self):
        return '<%s %s>' % (type(self).__name__, self.name)


def ceil_int(value: float) -> int:
    return int(math.ceil(value))
