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

"""Tests of vsm_authz.db.policy_overrides (SQLite)."""

from vsm_authz.db import policy_overrides
from vsm_tests.unit.authz.db import base

PRJ = base.PRJ


class TestPolicyOverrides(base.DBTestCase):
    def test_policy_overrides(self):
        self.assertEqual({}, policy_overrides.get_policy_overrides(PRJ))
        policy_overrides.set_policy_overrides(PRJ, {'max_size_gb': 50})
        policy_overrides.set_policy_overrides(PRJ, {'max_size_gb': 60,
                                                    'dry_run': True})
        self.assertEqual({'max_size_gb': 60, 'dry_run': True},
                         policy_overrides.get_policy_overrides(PRJ))
        self.assertEqual([PRJ], list(policy_overrides.list_policy_overrides()))
        policy_overrides.set_policy_overrides(PRJ, {})
        self.assertEqual({}, policy_overrides.get_policy_overrides(PRJ))
