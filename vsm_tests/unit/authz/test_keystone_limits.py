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

"""LimitChecker against oslo.limit's own LimitFixture (a fake Keystone)."""

from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslo_limit import fixture as limit_fixture
import testtools

from vsm_authz import conf as vsm_conf
from vsm_authz import keystone_limits

RESOURCE = 'vsm_storage_gigabytes'
PRJ = 'a' * 32
OTHER = 'b' * 32


class LimitTestCase(testtools.TestCase):
    def setUp(self):
        super().setUp()
        # oslo.limit reads [oslo_limit] from the global CONF only.
        self.conf = self.useFixture(config_fixture.Config(cfg.CONF)).conf
        vsm_conf.register_opts(self.conf)
        self.conf.set_override('endpoint_id', 'vsm-endpoint',
                               group='oslo_limit')

    def checker(self, reglimits, projlimits=None, **overrides):
        self.useFixture(limit_fixture.LimitFixture(reglimits,
                                                   projlimits or {}))
        for name, value in overrides.items():
            self.conf.set_override(name, value, group='unified_limits')
        return keystone_limits.LimitChecker(self.conf)


class TestLimitChecker(LimitTestCase):
    def test_within_registered_default(self):
        checker = self.checker({RESOURCE: 100})
        checker.check(PRJ, 90, 10)
        self.assertEqual(100, checker.get_limit(PRJ))

    def test_over_registered_default(self):
        checker = self.checker({RESOURCE: 100})
        exc = self.assertRaises(keystone_limits.OverLimit, checker.check, PRJ, 90, 11)
        self.assertEqual((100, 90, 11, 10), (exc.limit, exc.usage,
                                             exc.delta, exc.headroom))
        self.assertIn('limit of 100', str(exc))

    def test_project_limit_overrides_default(self):
        checker = self.checker({RESOURCE: 100}, {PRJ: {RESOURCE: 50}})
        self.assertRaises(keystone_limits.OverLimit, checker.check, PRJ, 45, 6)
        checker.check(OTHER, 45, 6)
        self.assertEqual(50, checker.get_limit(PRJ))
        self.assertEqual(100, checker.get_limit(OTHER))

    def test_unlimited(self):
        checker = self.checker({RESOURCE: -1})
        checker.check(PRJ, 10 ** 6, 10 ** 6)
        self.assertEqual(-1, checker.get_limit(PRJ))

    def test_registered_zero_is_a_real_limit(self):
        checker = self.checker({RESOURCE: 0})
        exc = self.assertRaises(keystone_limits.OverLimit, checker.check, PRJ, 0, 1)
        self.assertEqual(0, exc.limit)
        self.assertEqual(0, checker.get_limit(PRJ))

    def test_unregistered_is_named_not_zero(self):
        checker = self.checker({'something_else': 100})
        exc = self.assertRaises(keystone_limits.LimitNotRegistered, checker.check,
                                PRJ, 0, 1)
        self.assertEqual(
            'resource vsm_storage_gigabytes is not registered in Keystone '
            'for service vsm; run vsm-manage bootstrap', str(exc))
        self.assertIsNone(checker.get_limit(PRJ))

    def test_resource_name_is_configurable(self):
        checker = self.checker({'gb': 5}, resource_name='gb')
        self.assertRaises(keystone_limits.OverLimit, checker.check, PRJ, 5, 1)

    def test_usage_is_per_call(self):
        checker = self.checker({RESOURCE: 100})
        checker.check(PRJ, 0, 100)
        self.assertRaises(keystone_limits.OverLimit, checker.check, PRJ, 1, 100)
        checker.check(PRJ, 0, 100)

    def test_enforcer_rebuilt_after_cache_expiry(self):
        built = []

        def factory(callback):
            built.append(callback)
            return _FakeEnforcer()

        self.conf.set_override('cache_seconds', 0, group='unified_limits')
        checker = keystone_limits.LimitChecker(self.conf, enforcer_factory=factory)
        checker.check(PRJ, 1, 1)
        checker.check(PRJ, 1, 1)
        self.assertEqual(2, len(built))

    def test_keystone_errors_are_unavailable(self):
        def factory(callback):
            raise ValueError('Endpoint not found')

        checker = keystone_limits.LimitChecker(self.conf, enforcer_factory=factory)
        exc = self.assertRaises(keystone_limits.LimitServiceUnavailable,
                                checker.check, PRJ, 1, 1)
        self.assertIn('Endpoint not found', str(exc))


class _FakeEnforcer:
    def enforce(self, project_id, deltas):
        pass


class TestUnifiedLimitRuleWithFixture(LimitTestCase):
    """The rule, end to end through oslo.limit with a fake Keystone."""

    def decide(self, checker, **kwargs):
        from vsm_authz import rules
        from vsm_tests.unit.authz import test_rules as t
        engine = rules.Engine(rules.default_rules(checker))
        return engine.decide(t.make_ctx(**kwargs))

    def test_grant_clamp_and_deny(self):
        checker = self.checker({RESOURCE: 100}, {PRJ: {RESOURCE: 60}})
        self.assertEqual(('grant', 20), self._short(self.decide(
            checker, want=20, size_gb=10, usage=30)))
        self.assertEqual(('grant', 15), self._short(self.decide(
            checker, want=20, size_gb=10, usage=55)))
        decision = self.decide(checker, want=20, size_gb=10, usage=60)
        self.assertEqual(('deny', 'over_limit'), (decision.outcome,
                                                  decision.reason))

    def test_unregistered_denies_clearly(self):
        checker = self.checker({})
        decision = self.decide(checker, want=20)
        self.assertEqual(('deny', 'limit_unregistered'),
                         (decision.outcome, decision.reason))
        self.assertIn('run vsm-manage bootstrap', decision.message)

    @staticmethod
    def _short(decision):
        return decision.outcome, decision.size_gb
