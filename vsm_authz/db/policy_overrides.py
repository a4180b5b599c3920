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

"""Per-project overrides of the expansion policy (``policy_overrides``).

Stored as JSON, read by
:func:`vsm_authz.expansion_policy.effective_policy` for every decision and
written by ``vsm-manage policy set/unset``::

    from vsm_authz.db import policy_overrides

    policy_overrides.set_policy_overrides(project_id, {'max_size_gb': 500})
    policy_overrides.get_policy_overrides(project_id)  # {} when none
    policy_overrides.list_policy_overrides()        # {project_id: {...}}

Validate with :func:`vsm_authz.expansion_policy.validate_overrides`
before storing.
"""

import json
import typing

import sqlalchemy as sa

from vsm_authz.db import api as db_api
from vsm_authz.db import models


@db_api.retry
def get_policy_overrides(project_id: str) -> dict:
    """The project's stored policy overrides (``{}`` when none)."""
    with db_api.reader() as session:
        row = session.get(models.PolicyOverride, project_id)
        return {} if row is None else json.loads(row.overrides)


@db_api.retry
def set_policy_overrides(project_id: str, overrides: dict) -> None:
    """Replace the project's overrides; ``{}`` removes them. Validate with
    :func:`vsm_authz.expansion_policy.validate_overrides` first."""
    with db_api.writer() as session:
        row = session.get(models.PolicyOverride, project_id)
        if not overrides:
            if row is not None:
                session.delete(row)
            return
        text = json.dumps(overrides, sort_keys=True)
        if row is None:
            session.add(models.PolicyOverride(
                project_id=project_id, overrides=text, updated_at=db_api.now()))
        else:
            row.overrides, row.updated_at = text, db_api.now()


@db_api.retry
def list_policy_overrides() -> typing.Dict[str, dict]:
    """``{project_id: overrides}`` for every project that has some."""
    with db_api.reader() as session:
        return {r.project_id: json.loads(r.overrides)
                for r in session.execute(
                    sa.select(models.PolicyOverride)).scalars()}
