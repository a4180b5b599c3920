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

"""The guest is untrusted: checks against Nova and Cinder."""

from oslo_config import cfg
import testtools

from vsm_authz import validation
from vsm_tests.unit.authz import test_pipeline_fakes as fakes


class TestValidator(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.conf = cfg.ConfigOpts()
        validation.register_opts(self.conf)
        self.conf([])
        self.nova = fakes.FakeNova()
        self.cinder = fakes.FakeCinder()
        self.validator = validation.Validator(self.conf, self.nova,
                                              self.cinder)
        self.server_id = self.nova.add_server()
        self.volume_id = self.cinder.add_volume(self.nova, self.server_id)

    def rejection(self, func, *args):
        return self.assertRaises(validation.Rejection, func, *args)

    def test_valid(self):
        server = self.validator.server(self.server_id, fakes.PROJECT)
        volume = self.validator.volume(server, self.volume_id)
        self.assertEqual((10, 'in-use', fakes.PROJECT),
                         (volume.size_gb, volume.status, volume.project_id))

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
        exc = self.rejection(self.validator.volume, server, self.volume_id)
        self.assertEqual(('not_attached', False),
                         (exc.reason, exc.answerable))

    def test_not_attached_per_cinder(self):
        other = self.nova.add_server()
        self.nova.attachments[other].add(self.volume_id)
        server = self.validator.server(other, None)
        exc = self.rejection(self.validator.volume, server, self.volume_id)
        self.assertEqual('not_attached', exc.reason)

    def test_other_project_volume(self):
        self.cinder.volumes[self.volume_id][
            'os-vol-tenant-attr:tenant_id'] = fakes.OTHER_PROJECT
        server = self.validator.server(self.server_id, None)
        exc = self.rejection(self.validator.volume, server, self.volume_id)
        self.assertEqual(('not_attached', False),
                         (exc.reason, exc.answerable))

    def test_not_in_use_is_answerable(self):
        self.cinder.volumes[self.volume_id]['status'] = 'detaching'
        server = self.validator.server(self.server_id, None)
        exc = self.rejection(self.validator.volume, server, self.volume_id)
        self.assertEqual(('not_in_use', True, 10),
                         (exc.reason, exc.answerable, exc.size_gb))

    def test_online_extend_sources(self):
        server = self.validator.server(self.server_id, None)
        facts = self.validator.volume(server, self.volume_id)
        self.assertIsNone(self.validator.online_extend_support(facts))
        self.cinder.types['fake'] = {'extra_specs': {
            'volume_backend_name': 'fake'}}
        self.validator.no_online_extend = {'fake'}
        self.validator._types.clear()
        self.assertFalse(self.validator.online_extend_support(facts))
        self.cinder.types['fake'] = {'extra_specs': {
            'online_extend_support': '<is> True'}}
        self.validator._types.clear()
        self.assertTrue(self.validator.online_extend_support(facts))
        self.cinder.pool_caps['host@fake#fake'] = {
            'online_extend_support': False}
        self.validator._pools = None
        self.assertFalse(self.validator.online_extend_support(facts))
