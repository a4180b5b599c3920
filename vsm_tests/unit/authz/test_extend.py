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

"""Cinder extend and the wait for its outcome."""

from oslo_config import cfg
import testtools

from vsm_authz import conf as vsm_conf
from vsm_authz import extend
from vsm_tests.unit.authz import fakes


class TestExtender(testtools.TestCase):

    def setUp(self):
        super().setUp()
        conf = cfg.ConfigOpts()
        vsm_conf.register_opts(conf)
        conf([])
        self.clock = [0.0]
        self.sleeps = []

        def sleep(seconds):
            self.sleeps.append(seconds)
            self.clock[0] += seconds
        self.nova = fakes.FakeNova()
        self.cinder = fakes.FakeCinder()
        self.extender = extend.Extender(conf, self.cinder, sleep=sleep,
                                        clock=lambda: self.clock[0])
        self.server = self.nova.add_server()
        self.volume = self.cinder.add_volume(self.nova, self.server, 10)

    def test_extended(self):
        outcome = self.extender.extend(self.volume, 12)
        self.assertEqual((True, 12, 'ok'),
                         (outcome.extended, outcome.size_gb, outcome.reason))
        self.assertEqual([(self.volume, 12)], self.cinder.extends)

    def test_already_at_target_issues_nothing(self):
        self.cinder.volumes[self.volume]['size'] = 12
        self.assertTrue(self.extender.extend(self.volume, 12).extended)
        self.assertEqual([], self.cinder.extends)

    def test_extending_is_waited_for_not_reissued(self):
        self.cinder.volumes[self.volume].update(status='extending',
                                                _target=12)
        self.assertTrue(self.extender.extend(self.volume, 12).extended)
        self.assertEqual([], self.cinder.extends)

    def test_error_extending(self):
        self.cinder.extend_behaviour = 'error'
        outcome = self.extender.extend(self.volume, 12)
        self.assertEqual((False, 10, 'extend_error'),
                         (outcome.extended, outcome.size_gb, outcome.reason))

    def test_no_valid_backend_quotes_user_message(self):
        self.cinder.extend_behaviour = 'rollback'
        outcome = self.extender.extend(self.volume, 12)
        self.assertEqual('no_valid_backend', outcome.reason)
        self.assertIn('No valid backend', outcome.message)

    def test_quota(self):
        self.cinder.extend_behaviour = '413'
        self.assertEqual('quota', self.extender.extend(self.volume,
                                                       12).reason)

    def test_busy_is_transient(self):
        self.cinder.extend_behaviour = 'busy'
        self.assertRaises(extend.ExtendBusy, self.extender.extend,
                          self.volume, 12)

    def test_timeout_with_backoff(self):
        self.cinder.extend_behaviour = 'stuck'
        outcome = self.extender.extend(self.volume, 12)
        self.assertEqual((False, 'timeout'),
                         (outcome.extended, outcome.reason))
        self.assertEqual(0.5, self.sleeps[0])
        self.assertEqual(5.0, max(self.sleeps))
        self.assertGreater(self.clock[0], 300)

    def test_observe_only(self):
        outcome = self.extender.extend(self.volume, 12, issue=False)
        self.assertFalse(outcome.extended)
        self.assertEqual([], self.cinder.extends)
