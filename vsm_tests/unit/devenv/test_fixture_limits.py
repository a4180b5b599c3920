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

"""LocalCloud.set_project_limit puts back what was there, in any order."""

import itertools
import types

import testtools

from vsm_devenv.localcloud import fixture

INFO = {'region': 'RegionOne',
        'vsm': {'service_id': 'svc', 'limit_resource': 'vsm_gb'}}


class FakeIdentity:
    """Keystone limits: {id: Limit-like namespace}."""

    def __init__(self):
        self.limits_by_id = {}
        self._ids = itertools.count()

    def limits(self, project_id, resource_name, service_id):
        return [lim for lim in self.limits_by_id.values()
                if (lim.project_id, lim.resource_name, lim.service_id)
                == (project_id, resource_name, service_id)]

    def create_limit(self, **attrs):
        lim = types.SimpleNamespace(id='l%d' % next(self._ids), **attrs)
        self.limits_by_id[lim.id] = lim
        return lim

    def update_limit(self, limit_id, resource_limit):
        self.limits_by_id[limit_id].resource_limit = resource_limit
        return self.limits_by_id[limit_id]

    def delete_limit(self, limit_id, ignore_missing=False):
        self.limits_by_id.pop(limit_id)

    def value(self, project_id='p1'):
        found = self.limits(project_id, 'vsm_gb', 'svc')
        return found[0].resource_limit if found else None


class OfflineCloud(fixture.LocalCloud):
    """A LocalCloud whose system-scoped connection is the fake."""

    def __init__(self, identity):
        super().__init__()
        self.identity = identity

    def _setUp(self):
        self.info = INFO
        self._connections = {
            'admin-system': types.SimpleNamespace(identity=self.identity)}


class SetProjectLimitTestCase(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.identity = FakeIdentity()
        self.cloud = OfflineCloud(self.identity)
        self.cloud.setUp()

    def test_created_then_deleted(self):
        self.cloud.set_project_limit('p1', 10)
        self.cloud.set_project_limit('p1', 20)
        self.assertEqual(20, self.identity.value())
        self.cloud.cleanUp()
        self.assertIsNone(self.identity.value())

    def test_existing_limit_updated_removed_and_put_back(self):
        self.identity.create_limit(project_id='p1', resource_name='vsm_gb',
                                   service_id='svc', region_id='RegionOne',
                                   resource_limit=7)
        self.cloud.set_project_limit('p1', 30)
        self.assertEqual(30, self.identity.value())
        self.cloud.set_project_limit('p1', None)
        self.assertIsNone(self.identity.value())
        self.cloud.set_project_limit('p1', 40)
        self.assertEqual(40, self.identity.value())
        self.cloud.cleanUp()
        self.assertEqual(7, self.identity.value())
        self.assertEqual(1, len(self.identity.limits_by_id))

    def test_removing_nothing_changes_nothing(self):
        self.assertIsNone(self.cloud.set_project_limit('p1', None))
        self.cloud.cleanUp()
        self.assertEqual({}, self.identity.limits_by_id)
