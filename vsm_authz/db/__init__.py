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

- :mod:`vsm_authz.db.api` — the only entry point for the rest of the code;
- :mod:`vsm_authz.db.models` — the tables;
- :mod:`vsm_authz.db.migration` — ``alembic upgrade`` / version, used by
  ``vsm-manage db sync`` and the tests;
- ``migrations/`` — the alembic environment and revisions.
"""
