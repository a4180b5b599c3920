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

"""The expansion policy: config defaults overlaid with DB overrides."""

from oslo_config import cfg
from oslo_config import fixture as config_fixture
import testtools

from vsm_authz import conf as vsm_conf
from vsm_authz.db import fixture as db_fixture
from vsm_authz.db import policy_overrides
from vsm_authz import expansion_policy

PRJ = 'a' * 32


class TestValidate(testtools.TestCase):
    def test_coercion(self):
        self.assertEqual(
            {'max_size_gb': 5, 'dry_run': True, 'runaway_factor': 2.5,
             'cooldown_seconds': 0},
            expansion_policy.validate_overrides(
                {'max_size_gb': '5', 'dry_run': 'yes',
                 'runaway_factor': '2.5', 'cooldown_seconds': 0}))

    def test_errors_name_the_field(self):
        for bad, field in (({'nope': 1}, 'nope'),
                           ({'max_size_gb': 'x'}, 'max_size_gb'),
                           ({'max_size_gb': -1}, 'max_size_gb'),
                           ({'min_step_gb': 0}, 'min_step_gb'),
                           ({'max_step_gb': 1.5}, 'max_step_gb'),
                           ({'max_step_gb': True}, 'max_step_gb'),
                           ({'dry_run': 'maybe'}, 'dry_run')):
            exc = self.assertRaises(ValueError,
                                    expansion_policy.validate_overrides, bad)
            self.assertIn(field, str(exc))


class TestEffectivePolicy(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.useFixture(db_fixture.Database())
        self.conf = self.useFixture(
            config_fixture.Config(cfg.ConfigOpts())).conf
        vsm_conf.register_opts(self.conf)

    def test_config_defaults(self):
        self.conf.set_override('max_size_gb', 300, group='expansion_policy')
        policy = expansion_policy.effective_policy(self.conf, policy_overrides, PRJ)
        self.assertEqual(300, policy.max_size_gb)
        self.assertEqual(expansion_policy.ExpansionPolicy().replace(
            max_size_gb=300), policy)

    def test_overrides_win(self):
        self.conf.set_override('max_size_gb', 300, group='expansion_policy')
        policy_overrides.set_policy_overrides(PRJ, {'max_size_gb': 50,
                                                    'dry_run': True})
        policy = expansion_policy.effective_policy(self.conf, policy_overrides, PRJ)
        self.assertEqual((50, True), (policy.max_size_gb, policy.dry_run))
        other = expansion_policy.effective_policy(self.conf, policy_overrides,
                                                  'b' * 32)
        self.assertEqual((300, False), (other.max_size_gb, other.dry_run))

    def test_stale_override_is_skipped(self):
        policy_overrides.set_policy_overrides(PRJ, {'removed_knob': 1,
                                                    'cooldown_seconds': 5})
        policy = expansion_policy.effective_policy(self.conf, policy_overrides, PRJ)
        self.assertEqual(5, policy.cooldown_seconds)
