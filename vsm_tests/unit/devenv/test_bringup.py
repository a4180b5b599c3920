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

"""The local cloud's venv helpers: idempotent ones ride out one failure."""

import pathlib
import subprocess
from unittest import mock

import fixtures
import testtools

from vsm_devenv.localcloud import bringup


class _Layout:

    def __init__(self, root):
        self.root = pathlib.Path(root)
        self.clouds_yaml = self.root / 'clouds.yaml'

    def venv_bin(self, name):
        return self.root / 'bin' / name

    def log(self, name):
        return self.root / f'{name}.log'


class TestVenvHelper(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.layout = _Layout(self.useFixture(fixtures.TempDir()).path)
        self.useFixture(fixtures.MockPatch(
            'vsm_devenv.localcloud.services.openstack_env',
            return_value={}))
        self.useFixture(fixtures.MockPatch('time.sleep'))

    def _results(self, *codes):
        return [subprocess.CompletedProcess([], code, stdout=b'{"ok": 1}')
                for code in codes]

    def test_retries_until_success(self):
        with mock.patch('subprocess.run',
                        side_effect=self._results(1, 0)) as run:
            self.assertEqual({'ok': 1}, bringup._run_venv_helper(
                self.layout, 'keystone_setup', attempts=3))
        self.assertEqual(2, run.call_count)
        log = self.layout.log('keystone_setup').read_text()
        self.assertIn('attempt 1', log)
        self.assertIn('attempt 2', log)

    def test_gives_up_after_attempts(self):
        with mock.patch('subprocess.run',
                        side_effect=self._results(1, 1)) as run:
            err = self.assertRaises(
                RuntimeError, bringup._run_venv_helper,
                self.layout, 'keystone_setup', attempts=2)
        self.assertEqual(2, run.call_count)
        self.assertIn('keystone_setup failed 2 time(s)', str(err))

    def test_one_attempt_by_default(self):
        with mock.patch('subprocess.run',
                        side_effect=self._results(1, 0)) as run:
            self.assertRaises(RuntimeError, bringup._run_venv_helper,
                              self.layout, 'resources')
        self.assertEqual(1, run.call_count)
