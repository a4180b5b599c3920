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

"""The decision engine: should this expansion request be granted?

Contract with the pipeline (:class:`vsm_authz.facts.Gatherer` builds the
context from one read of the volume)::

    from vsm_authz.db import policy_overrides
    from vsm_authz.db import volumes
    from vsm_authz import expansion_policy
    from vsm_authz import rules

    engine = rules.build_engine(conf)          # once per process
    ctx = rules.DecisionContext(
        request=req,                           # protocol.ExpansionRequest
        volume=rules.VolumeFacts(volume_id, project_id, server_id,
                                 size_gb=cinder_size, volume_type=vtype,
                                 status='in-use',
                                 original_size_gb=volumes.original_size(vol),
                                 host=host, online_extend_support=None),
        quota=cinder_quota_set,                # os-quota-sets?usage=True
        volume_history=volumes.grant_history(vol, since=None),
        project_usage_gb=sum_of_project_volume_sizes,
        policy=expansion_policy.effective_policy(conf, policy_overrides,
                                                  project_id),
        now=timeutils.utcnow())
    decision = engine.decide(ctx)              # rules.Decision
    decision.outcome       # 'grant' | 'deny' | 'pending'
    decision.size_gb       # target (grant/pending) or current size (deny)
    decision.reason        # protocol.Reason code for vsm:resp
    decision.retry_after   # UNIX seconds or None
    decision.message, decision.rule   # for the audit log

Run it while holding ``locks.project(project_id)`` and keep holding it
until Cinder shows the new size: the quota, usage and limit numbers in
the context are only true while no other grant for the project is in
flight (see :mod:`vsm_authz.locks`).

Rules (each a small class with its decision table in its docstring):
:mod:`.size` (sanity, step, max size), :mod:`.rate` (cooldown, rate
caps, runaway), :mod:`.quota` (Cinder), :mod:`.unified_limit` (Keystone unified
limit), :mod:`.escalation`; dry-run is applied by :mod:`.engine`.
"""

from vsm_authz.rules.base import Decision  # noqa: F401
from vsm_authz.rules.base import DecisionContext  # noqa: F401
from vsm_authz.rules.base import DENY  # noqa: F401
from vsm_authz.rules.base import GRANT  # noqa: F401
from vsm_authz.rules.base import GrantRecord  # noqa: F401
from vsm_authz.rules.base import PENDING  # noqa: F401
from vsm_authz.rules.base import Rule  # noqa: F401
from vsm_authz.rules.base import VolumeFacts  # noqa: F401
from vsm_authz.rules.engine import build_engine  # noqa: F401
from vsm_authz.rules.engine import default_rules  # noqa: F401
from vsm_authz.rules.engine import Engine  # noqa: F401
