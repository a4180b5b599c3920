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

"""The expansion policy: how far and how fast VSM grows a volume.

Not to be confused with oslo.policy (who may call which API): this is the
set of knobs the decision rules read. Defaults come from the config group
``[expansion_policy]``; a project may override any of them, stored in the
database (``vsm-manage policy set --project P max_size_gb=500``)::

    from vsm_authz import expansion_policy
    from vsm_authz.db import policy_overrides

    policy = expansion_policy.effective_policy(conf, policy_overrides,
                                               project_id)
    policy.max_size_gb, policy.cooldown_seconds, ...
    expansion_policy.validate_overrides({'max_size_gb': '500'})
    # -> {'max_size_gb': 500}; ValueError naming the field otherwise

A value of 0 turns a cap off (no maximum size, no maximum step, no
cooldown, no rate cap, no runaway cap, never escalate).
"""

import dataclasses

from oslo_log import log as logging

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ExpansionPolicy:
    """The policy in force for one project (see the options' help)."""

    max_size_gb: int = 1024
    min_step_gb: int = 1
    max_step_gb: int = 100
    cooldown_seconds: int = 30
    max_grants_per_hour: int = 30
    max_grants_per_day: int = 200
    runaway_factor: float = 10.0
    runaway_window_seconds: int = 86400
    auto_grants_before_approval: int = 0
    dry_run: bool = False

    def replace(self, **changes) -> 'ExpansionPolicy':
        return dataclasses.replace(self, **changes)


FIELDS = {f.name: f for f in dataclasses.fields(ExpansionPolicy)}
_MINIMUM = {'min_step_gb': 1, 'runaway_window_seconds': 1}


def _coerce(name, value):
    kind = FIELDS[name].type
    kind = {'int': int, 'float': float, 'bool': bool}.get(kind, kind)
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ('1', 'true', 'yes', 'on'):
            return True
        if text in ('0', 'false', 'no', 'off'):
            return False
        raise ValueError('%s must be true or false, got %r' % (name, value))
    if isinstance(value, bool):
        raise ValueError('%s must be a number, got %r' % (name, value))
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ValueError('%s must be %s, got %r'
                         % (name, 'an integer' if kind is int
                            else 'a number', value))
    if kind is int and isinstance(value, float) and value != number:
        raise ValueError('%s must be an integer, got %r' % (name, value))
    if number < _MINIMUM.get(name, 0):
        raise ValueError('%s must be >= %d, got %r'
                         % (name, _MINIMUM.get(name, 0), value))
    return number


def validate_overrides(overrides: dict) -> dict:
    """Check and normalise per-project overrides (strings accepted).

    :raises ValueError: naming the first unknown or invalid field.
    """
    result = {}
    for name, value in overrides.items():
        if name not in FIELDS:
            raise ValueError('unknown expansion policy field %r (one of %s)'
                             % (name, ', '.join(sorted(FIELDS))))
        result[name] = _coerce(name, value)
    return result


def from_config(conf) -> ExpansionPolicy:
    """The configured defaults."""
    group = conf.expansion_policy
    return ExpansionPolicy(**{name: group[name] for name in FIELDS})


def effective_policy(conf, store, project_id) -> ExpansionPolicy:
    """The config defaults overlaid with the project's stored overrides.

    :param store: :mod:`vsm_authz.db.policy_overrides` (or anything with
        ``get_policy_overrides(project_id)``).

    An override that no longer validates (a field renamed or removed in
    an upgrade) is skipped with a warning rather than failing every
    decision of the project.
    """
    policy = from_config(conf)
    overrides = store.get_policy_overrides(project_id)
    valid = {}
    for name, value in overrides.items():
        try:
            valid.update(validate_overrides({name: value}))
        except ValueError as exc:
            LOG.warning('Ignoring expansion policy override of project '
                        '%(project)s: %(error)s',
                        {'project': project_id, 'error': exc})
    return policy.replace(**valid) if valid else policy
