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

"""vsm-manage bootstrap and LimitChecker against the real local Keystone.

Needs a running local cloud (``python -m vsm_devenv.localcloud up``);
fails, naming the command to run, when the local cloud is not up. The cloud pre-creates
the vsm service, endpoint, roles and registered limit, so bootstrap must
find everything and create nothing — twice.
"""

import os
import subprocess
import sys

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
import testtools

from vsm_authz import conf as vsm_conf
from vsm_authz import keystone_limits
from vsm_devenv.localcloud import fixture as localcloud_fixture
from vsm_tests.functional.authz import base

REPO = base.REPO


class LocalCloudTestCase(testtools.TestCase):
    def setUp(self):
        super().setUp()
        # Raises LocalCloudNotRunning with the command that starts it.
        self.info = self.useFixture(localcloud_fixture.LocalCloud()).info


class TestBootstrap(LocalCloudTestCase):
    def run_bootstrap(self, conf_file):
        env = dict(os.environ, OS_CLIENT_CONFIG_FILE=self.info['clouds_yaml'],
                   PYTHONPATH=REPO)
        proc = subprocess.run(
            [sys.executable, '-m', 'vsm_authz.cmd.manage', '--config-file',
             conf_file, 'bootstrap', '--cloud', 'admin-system'],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, timeout=120)
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
        return proc.stdout

    def test_bootstrap_twice_is_idempotent(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        conf_file = os.path.join(tmp, 'vsm.conf')
        vsm = self.info['vsm']
        with open(conf_file, 'w') as f:
            f.write('[DEFAULT]\nstate_path = %s\n'
                    '[keystone_bootstrap]\npublic_url = %s\n'
                    'region_name = %s\n'
                    '[unified_limits]\nresource_name = %s\n'
                    % (tmp, vsm['endpoint_url'], self.info['region'],
                       vsm['limit_resource']))
        for _ in range(2):
            out = self.run_bootstrap(conf_file)
            self.assertNotIn(': created', out)
            self.assertIn('service vsm (type vsm): found %s'
                          % vsm['service_id'], out)
            self.assertIn('endpoint_id = %s' % vsm['endpoint_id'], out)
            self.assertIn('system role reader of vsm: found', out)
            self.assertIn('registered limit %s: found'
                          % vsm['limit_resource'], out)


class TestLimitCheckerForReal(LocalCloudTestCase):
    """oslo.limit through the vsm service user's system-scoped token."""

    def setUp(self):
        super().setUp()
        conf = self.useFixture(config_fixture.Config(cfg.CONF)).conf
        # oslo.limit registers its auth plugin options only once it can
        # read auth_type: register, load the file, register again.
        vsm_conf.register_opts(conf)
        conf([], project='vsm',
             default_config_files=[self.info['vsm']['oslo_limit_config']])
        vsm_conf.register_opts(conf)
        self.conf = conf
        self.project = self.info['projects']['demo']

    def test_within_and_over_limit(self):
        checker = keystone_limits.LimitChecker(self.conf)
        limit = checker.get_limit(self.project)
        self.assertIsInstance(limit, int)
        self.assertGreater(limit, 0)
        checker.check(self.project, 0, 1)
        checker.check(self.project, limit - 1, 1)
        exc = self.assertRaises(keystone_limits.OverLimit, checker.check,
                                self.project, limit, 1)
        self.assertEqual((limit, limit, 1), (exc.limit, exc.usage,
                                             exc.delta))

    def test_unregistered_resource(self):
        self.conf.set_override('resource_name', 'vsm_no_such_resource',
                               group='unified_limits')
        checker = keystone_limits.LimitChecker(self.conf)
        exc = self.assertRaises(keystone_limits.LimitNotRegistered, checker.check,
                                self.project, 0, 1)
        self.assertIn('vsm_no_such_resource is not registered', str(exc))
        self.assertIsNone(checker.get_limit(self.project))
