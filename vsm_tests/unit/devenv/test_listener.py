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

import configparser
import os

import fixtures
import testtools
from testtools import MultipleExceptions

from vsm_devenv import listener

INFO = {
    'auth_url': 'http://127.0.0.1:5000/v3', 'password': 'secret',
    'region': 'RegionOne', 'transport_url': 'rabbit://vsm:secret@host:5672/',
    'vsm': {'endpoint_id': 'e1'},
    'notifications': {'exchange': 'nova', 'topic': 'vsm_notifications'},
}

# Stands in for the interpreter: logs like a listener worker, then waits.
FAKE_PYTHON = '''#!/bin/sh
case "$*" in
  *vsm_authz.cmd.manage*) echo synced; exit 0 ;;
  *broken*) echo "no transport"; exit 3 ;;
esac
echo "Listener worker 0 (pid $$) consuming vsm_notifications on exchange nova"
exec sleep 60
'''


class ConfigTestCase(testtools.TestCase):
    def test_local_cloud_options_and_extras(self):
        text = listener.config(INFO, '/var/lib/x', 'sqlite:////x.db',
                               {'listener': {'pool': 'p1'},
                                'extend': {'timeout': '60'}})
        conf = configparser.ConfigParser()
        conf.read_string(text)
        self.assertEqual('rabbit://vsm:secret@host:5672/',
                         conf['DEFAULT']['transport_url'])
        self.assertEqual('sqlite:////x.db', conf['database']['connection'])
        self.assertEqual('service', conf['service_auth']['project_name'])
        self.assertEqual('all', conf['oslo_limit']['system_scope'])
        self.assertNotIn('project_name', conf['oslo_limit'])
        self.assertEqual('e1', conf['oslo_limit']['endpoint_id'])
        self.assertEqual(('nova', 'vsm_notifications', 'p1'),
                         (conf['listener']['exchange'],
                          conf['listener']['topics'],
                          conf['listener']['pool']))
        self.assertEqual('60', conf['extend']['timeout'])


class AuthzListenerTestCase(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.python = os.path.join(self.tmp, 'python')
        with open(self.python, 'w') as f:
            f.write(FAKE_PYTHON)
        os.chmod(self.python, 0o755)

    def test_ready_once_consuming_then_stopped_at_cleanup(self):
        runner = listener.AuthzListener(
            os.path.join(self.tmp, 'vsm.conf'), db_sync=True,
            python=self.python)
        with runner:
            self.assertIsNone(runner.proc.poll())
            self.assertIn(' consuming ', runner.log())
        self.assertIsNotNone(runner.proc.poll())

    def test_exit_before_consuming_fails_with_the_log(self):
        runner = listener.AuthzListener(
            os.path.join(self.tmp, 'broken.conf'), python=self.python)
        # fixtures report a failed setUp with the cleanup's outcome
        e = self.assertRaises(MultipleExceptions, runner.setUp)
        self.assertIsInstance(e.args[0][1], listener.ListenerFailed)
        self.assertIn('no transport', str(e.args[0][1]))
