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

"""VSM's persistent state (oslo.db + SQLAlchemy 2 + alembic).

- :mod:`vsm_authz.db.api` — the engine: ``configure(conf)``, the
  transaction helpers the query modules share;
- :mod:`vsm_authz.db.expansions` — expansion requests: recording them
  and their compare-and-set transitions;
- :mod:`vsm_authz.db.states` — the states of a request and the moves
  allowed;
- :mod:`vsm_authz.db.volumes` — what VSM remembers about a volume, and
  its grant history;
- :mod:`vsm_authz.db.audit_log` — the append-only audit trail;
- :mod:`vsm_authz.db.policy_overrides` — per-project expansion policy
  overrides;
- :mod:`vsm_authz.db.models` — the tables;
- :mod:`vsm_authz.db.migration` — ``alembic upgrade`` / version, used by
  ``vsm-manage db sync`` and the tests; ``migrations/`` — the alembic
  environment and revisions;
- :mod:`vsm_authz.db.fixture` — a fresh database per test.

VSM's own modules import the module they need. Tools and tests outside
the package that want the whole state API under one name use the package
itself, which re-exports the public functions of those modules (nothing
else)::

    from vsm_authz import db

    db.configure(conf)
    db.get_request(volume_id, request_id), db.list_audit(volume_id=...)
"""

from vsm_authz.db.api import configure  # noqa: F401
from vsm_authz.db.api import configure_reset  # noqa: F401
from vsm_authz.db.audit_log import audit  # noqa: F401
from vsm_authz.db.audit_log import list_audit  # noqa: F401
from vsm_authz.db.expansions import get_request  # noqa: F401
from vsm_authz.db.expansions import in_flight  # noqa: F401
from vsm_authz.db.expansions import latest_request  # noqa: F401
from vsm_authz.db.expansions import list_requests  # noqa: F401
from vsm_authz.db.expansions import record_request  # noqa: F401
from vsm_authz.db.expansions import transition  # noqa: F401
from vsm_authz.db.policy_overrides import get_policy_overrides  # noqa: F401
from vsm_authz.db.policy_overrides import list_policy_overrides  # noqa: F401
from vsm_authz.db.policy_overrides import set_policy_overrides  # noqa: F401
from vsm_authz.db.volumes import get_volume  # noqa: F401
from vsm_authz.db.volumes import grant_history  # noqa: F401
from vsm_authz.db.volumes import original_size  # noqa: F401
