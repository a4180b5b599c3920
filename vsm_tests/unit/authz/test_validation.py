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

"""The guest is untrusted: may VSM answer at all (Nova, then Cinder)?"""

import testtools

from vsm_authz import validation
from vsm_tests.unit.authz import fakes


class TestValidator(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.nova = fakes.FakeNova()
        self.cinder = fakes.FakeCinder()
        self.validator = validation.Validator(self.nova)
        self.server_id = self.nova.add_server()
        self.volume_id = self.cinder.add_volume(self.nova, self.server_id)

    def rejection(self, func, *args):
        return self.assertRaises(validation.Rejection, func, *args)

    def check_volume(self, server):
        """Both views, as the pipeline applies them."""
        self.validator.check_attached(server, self.volume_id)
        validation.check_cinder_volume(
            server.server_id, server.project_id, self.volume_id,
            self.cinder.get_volume(self.volume_id))

    def test_valid(self):
        server = self.validator.server(self.server_id, fakes.PROJECT)
        self.assertEqual(fakes.PROJECT, server.project_id)
        self.check_volume(server)

    def test_server_gone_or_moved(self):
        exc = self.rejection(self.validator.server, fakes.new_uuid(),
                             fakes.PROJECT)
        self.assertEqual(('server_gone', False),
                         (exc.reason, exc.answerable))
        exc = self.rejection(self.validator.server, self.server_id,
                             fakes.OTHER_PROJECT)
        self.assertEqual('project_mismatch', exc.reason)

    def test_not_attached_per_nova(self):
        other = self.nova.add_server()
        server = self.validator.server(other, None)
        exc = self.rejection(self.check_volume, server)
        self.assertEqual(('not_attached', False),
                         (exc.reason, exc.answerable))
        self.assertEqual(0, self.cinder.calls['get_volume'])

    def test_not_attached_per_cinder(self):
        other = self.nova.add_server()
        self.nova.attachments[other].add(self.volume_id)
        server = self.validator.server(other, None)
        exc = self.rejection(self.check_volume, server)
        self.assertEqual('not_attached', exc.reason)

    def test_other_project_volume(self):
        self.cinder.volumes[self.volume_id][
            'os-vol-tenant-attr:tenant_id'] = fakes.OTHER_PROJECT
        server = self.validator.server(self.server_id, None)
        exc = self.rejection(self.check_volume, server)
        self.assertEqual(('not_attached', False),
                         (exc.reason, exc.answerable))

    def test_volume_gone_from_cinder(self):
        server = self.validator.server(self.server_id, None)
        del self.cinder.volumes[self.volume_id]
        exc = self.rejection(self.check_volume, server)
        self.assertEqual(('not_attached', False),
                         (exc.reason, exc.answerable))

    def test_nova_attachments_read_once_per_server(self):
        server = self.validator.server(self.server_id, None)
        self.assertTrue(self.validator.is_attached(server, self.volume_id))
        self.assertFalse(self.validator.is_attached(server, 'other'))
        self.assertEqual(1, self.nova.calls['attached_volume_ids'])
