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

"""Decision tables of every rule, and of the engine that chains them."""

import datetime

from oslo_config import cfg
from oslo_config import fixture as config_fixture
import testtools

from vsm_agent import protocol
from vsm_authz import conf as vsm_conf
from vsm_authz import expansion_policy
from vsm_authz import keystone_limits
from vsm_authz import rules
from vsm_authz.rules import base
from vsm_authz.rules import escalation
from vsm_authz.rules import quota
from vsm_authz.rules import rate
from vsm_authz.rules import size
from vsm_authz.rules import unified_limit

VOL = '6f1c2a4e-0b8d-4c1e-9a57-3d2f00c1ab42'
SRV = '11111111-2222-4333-8444-555555555555'
PRJ = 'a' * 32
NOW = datetime.datetime(2026, 11, 25, 12, 0, 0)
NOW_EPOCH = 1795608000  # NOW as UNIX seconds


def ago(seconds):
    return NOW - datetime.timedelta(seconds=seconds)


def grant(seconds_ago, from_gb=10, to_gb=12, automatic=True):
    return rules.GrantRecord(at=ago(seconds_ago), from_gb=from_gb,
                             to_gb=to_gb, automatic=automatic)


def make_ctx(want=12, size_gb=10, status='in-use', volume_type='fake',
             history=(), quota_set=None, usage=10, policy=None,
             dry_run=False, original=None, **policy_changes):
    request = protocol.ExpansionRequest(
        volume_id=VOL, request_id='b' * 32, seq=1,
        state=protocol.RequestState.REQUESTED, current_gb=min(size_gb,
                                                              want - 1),
        requested_gb=want, timestamp=NOW_EPOCH, reason='used_pct')
    volume = rules.VolumeFacts(
        volume_id=VOL, project_id=PRJ, server_id=SRV, size_gb=size_gb,
        volume_type=volume_type, status=status,
        original_size_gb=size_gb if original is None else original)
    policy = (policy or expansion_policy.ExpansionPolicy()).replace(
        **policy_changes)
    return rules.DecisionContext(
        request=request, volume=volume, quota=quota_set or {},
        volume_history=list(history), project_usage_gb=usage,
        policy=policy, now=NOW, dry_run=dry_run)


class FakeChecker:
    """A LimitChecker stand-in: a fixed limit, or an exception."""

    def __init__(self, limit=1000, error=None):
        self.limit, self.error, self.calls = limit, error, []

    def check(self, project_id, current_usage_gb, delta_gb):
        self.calls.append((project_id, current_usage_gb, delta_gb))
        if self.error:
            raise self.error
        if self.limit >= 0 and current_usage_gb + delta_gb > self.limit:
            raise keystone_limits.OverLimit(project_id, 'vsm_storage_gigabytes',
                                            self.limit, current_usage_gb, delta_gb)


class RuleTable(testtools.TestCase):
    """Run a table of (name, ctx kwargs, expected) rows through a rule.

    expected: an int (the target passes through, maybe clamped) or a
    tuple (outcome, reason[, retry_after]).
    """

    def check_table(self, rule, table, target=None):
        for name, kwargs, expected in table:
            ctx = make_ctx(**kwargs)
            result = rule.apply(ctx, ctx.request.requested_gb
                                if target is None else target)
            if isinstance(expected, int):
                self.assertEqual(expected, result, name)
                continue
            self.assertIsInstance(result, rules.Decision, name)
            self.assertEqual(expected[:2], (result.outcome, result.reason),
                             name)
            self.assertEqual(rule.name, result.rule, name)
            if len(expected) > 2:
                self.assertEqual(expected[2], result.retry_after, name)
            if result.outcome == rules.DENY:
                self.assertEqual(ctx.volume.size_gb, result.size_gb, name)
            self.assertTrue(result.message, name)


class TestSanity(RuleTable):
    def test_table(self):
        self.check_table(size.RequestSanityRule(), [
            ('grows', dict(want=12, size_gb=10), 12),
            ('already that large', dict(want=12, size_gb=12),
             ('deny', 'size_mismatch', None)),
            ('already larger', dict(want=12, size_gb=20),
             ('deny', 'size_mismatch', None)),
            ('detached', dict(status='available'),
             ('deny', 'not_in_use', None)),
            ('error state', dict(status='error_extending'),
             ('deny', 'not_in_use', None)),
            ('extend in flight', dict(status='extending'),
             ('deny', 'not_in_use', NOW_EPOCH + 60)),
        ])


class TestStep(RuleTable):
    def test_table(self):
        self.check_table(size.StepRule(), [
            ('within bounds', dict(want=15, min_step_gb=1, max_step_gb=10),
             15),
            ('rounded up to min step', dict(want=11, min_step_gb=5), 15),
            ('cut down to max step', dict(want=50, max_step_gb=10), 20),
            ('no max step', dict(want=500, max_step_gb=0), 500),
            ('exactly max', dict(want=20, max_step_gb=10), 20),
        ])


class TestMaxSize(RuleTable):
    def test_table(self):
        self.check_table(size.MaxSizeRule(), [
            ('under max', dict(want=12, max_size_gb=100), 12),
            ('clamped to max', dict(want=120, size_gb=90, max_size_gb=100),
             100),
            ('at max', dict(want=110, size_gb=100, max_size_gb=100),
             ('deny', 'max_size', None)),
            ('above max (shrunk policy)',
             dict(want=130, size_gb=120, max_size_gb=100),
             ('deny', 'max_size', None)),
            ('no cap', dict(want=5000, size_gb=10, max_size_gb=0), 5000),
        ])


class TestCooldown(RuleTable):
    def test_table(self):
        self.check_table(rate.CooldownRule(), [
            ('never grown', dict(cooldown_seconds=60), 12),
            ('long ago', dict(history=[grant(61)], cooldown_seconds=60), 12),
            ('too recent', dict(history=[grant(10)], cooldown_seconds=60),
             ('deny', 'cooldown', NOW_EPOCH + 50)),
            ('latest counts', dict(history=[grant(500), grant(30)],
                                   cooldown_seconds=60),
             ('deny', 'cooldown', NOW_EPOCH + 30)),
            ('off', dict(history=[grant(1)], cooldown_seconds=0), 12),
        ])

    def test_aware_datetimes(self):
        ctx = make_ctx(history=[grant(10)], cooldown_seconds=60)
        ctx.now = NOW.replace(tzinfo=datetime.timezone.utc)
        decision = rate.CooldownRule().apply(ctx, 12)
        self.assertEqual(NOW_EPOCH + 50, decision.retry_after)


class TestRateCap(RuleTable):
    def test_table(self):
        four_in_hour = [grant(3000), grant(2000), grant(1000), grant(100)]
        self.check_table(rate.RateCapRule(), [
            ('under hourly cap', dict(history=four_in_hour,
                                      max_grants_per_hour=5), 12),
            ('at hourly cap', dict(history=four_in_hour,
                                   max_grants_per_hour=4),
             ('deny', 'rate', NOW_EPOCH - 3000 + 3600)),
            ('over hourly cap (lowered)', dict(history=four_in_hour,
                                               max_grants_per_hour=2),
             ('deny', 'rate', NOW_EPOCH - 1000 + 3600)),
            ('old grants do not count',
             dict(history=[grant(4000)] * 3, max_grants_per_hour=3), 12),
            ('daily cap', dict(history=[grant(80000), grant(40000),
                                        grant(5000)],
                               max_grants_per_hour=0, max_grants_per_day=3),
             ('deny', 'rate', NOW_EPOCH - 80000 + 86400)),
            ('caps off', dict(history=four_in_hour, max_grants_per_hour=0,
                              max_grants_per_day=0), 12),
        ])


class TestRunaway(RuleTable):
    def test_table(self):
        self.check_table(rate.RunawayRule(), [
            ('no history: x factor of current size',
             dict(want=40, size_gb=10, runaway_factor=4.0), 40),
            ('no history: beyond',
             dict(want=41, size_gb=10, runaway_factor=4.0),
             ('deny', 'runaway', None)),
            ('baseline = first grant in window',
             dict(want=45, size_gb=30, runaway_factor=4.0,
                  history=[grant(7200, 10, 20), grant(60, 20, 30)],
                  runaway_window_seconds=86400),
             ('deny', 'runaway', None)),
            ('grants before the window do not count',
             dict(want=45, size_gb=30, runaway_factor=2.0,
                  history=[grant(90000, 10, 30)],
                  runaway_window_seconds=86400), 45),
            ('off', dict(want=1000, size_gb=10, runaway_factor=0), 1000),
        ])


class TestCinderQuota(RuleTable):
    @staticmethod
    def q(limit, in_use, reserved=0):
        return {'limit': limit, 'in_use': in_use, 'reserved': reserved}

    def test_table(self):
        q = self.q
        self.check_table(quota.CinderQuotaRule(), [
            ('fits', dict(want=20, quota_set={'gigabytes': q(100, 50)}), 20),
            ('unlimited', dict(want=500, quota_set={
                'gigabytes': q(-1, 50), 'gigabytes_fake': q(-1, 0),
                'per_volume_gigabytes': q(-1, 0)}), 500),
            ('no quota data', dict(want=500, quota_set={}), 500),
            ('clamped to total headroom',
             dict(want=20, quota_set={'gigabytes': q(100, 95)}), 15),
            ('reserved counts',
             dict(want=20, quota_set={'gigabytes': q(100, 90, 5)}), 15),
            ('total full', dict(want=20, quota_set={'gigabytes': q(100, 100)}),
             ('deny', 'quota', None)),
            ('headroom below min step',
             dict(want=20, min_step_gb=5,
                  quota_set={'gigabytes': q(100, 97)}),
             ('deny', 'quota', None)),
            ('type quota binds', dict(want=20, quota_set={
                'gigabytes': q(1000, 50), 'gigabytes_fake': q(60, 55)}), 15),
            ('other type ignored', dict(want=20, quota_set={
                'gigabytes_other': q(0, 0)}), 20),
            ('untyped volume', dict(want=20, volume_type=None, quota_set={
                'gigabytes_fake': q(0, 0)}), 20),
            ('per volume binds', dict(want=20, quota_set={
                'per_volume_gigabytes': q(16, 0)}), 16),
            ('per volume reached', dict(want=20, size_gb=16, quota_set={
                'per_volume_gigabytes': q(16, 0)}),
             ('deny', 'quota', None)),
            ('bare int quota (usage=False)',
             dict(want=20, quota_set={'per_volume_gigabytes': 15}), 15),
        ])


class TestUnifiedLimit(RuleTable):
    def test_table(self):
        self.check_table(unified_limit.UnifiedLimitRule(FakeChecker(100)), [
            ('fits', dict(want=20, usage=50), 20),
            ('exactly', dict(want=20, size_gb=10, usage=90), 20),
            ('clamped to headroom', dict(want=20, size_gb=10, usage=95),
             15),
            ('no headroom', dict(want=20, usage=100),
             ('deny', 'over_limit', None)),
            ('headroom below min step',
             dict(want=20, usage=97, min_step_gb=5),
             ('deny', 'over_limit', None)),
        ])

    def test_usage_and_delta_passed(self):
        checker = FakeChecker(100)
        unified_limit.UnifiedLimitRule(checker).apply(
            make_ctx(want=20, size_gb=10, usage=42), 18)
        self.assertEqual([(PRJ, 42, 8)], checker.calls)

    def test_unregistered(self):
        rule = unified_limit.UnifiedLimitRule(FakeChecker(
            error=keystone_limits.LimitNotRegistered('vsm_storage_gigabytes')))
        decision = rule.apply(make_ctx(), 12)
        self.assertEqual(('deny', 'limit_unregistered'),
                         (decision.outcome, decision.reason))
        self.assertIn('vsm-manage bootstrap', decision.message)

    def test_keystone_down_is_not_a_decision(self):
        rule = unified_limit.UnifiedLimitRule(FakeChecker(
            error=keystone_limits.LimitServiceUnavailable('down')))
        self.assertRaises(keystone_limits.LimitServiceUnavailable, rule.apply,
                          make_ctx(), 12)


class TestEscalation(RuleTable):
    def test_table(self):
        auto, manual = grant(9000), grant(8000, automatic=False)
        self.check_table(escalation.EscalationRule(), [
            ('off', dict(history=[auto] * 5, auto_grants_before_approval=0),
             12),
            ('below threshold', dict(history=[auto],
                                     auto_grants_before_approval=2), 12),
            ('at threshold', dict(history=[auto, auto],
                                  auto_grants_before_approval=2),
             ('pending', 'approval', None)),
            ('approval resets the count',
             dict(history=[grant(9500), grant(9400), manual, grant(100)],
                  auto_grants_before_approval=2), 12),
        ])

    def test_pending_carries_target(self):
        decision = escalation.EscalationRule().apply(
            make_ctx(history=[grant(100)], auto_grants_before_approval=1),
            17)
        self.assertEqual((rules.PENDING, 17), (decision.outcome,
                                               decision.size_gb))


class TestEngine(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.checker = FakeChecker(1000)
        self.engine = rules.Engine(rules.default_rules(self.checker))

    def test_plain_grant(self):
        decision = self.engine.decide(make_ctx(want=12))
        self.assertEqual((rules.GRANT, 12, 'ok', None, 'engine'),
                         (decision.outcome, decision.size_gb,
                          decision.reason, decision.retry_after,
                          decision.rule))
        self.assertEqual(protocol.ResponseState.GRANTED,
                         decision.response_state())

    def test_clamps_compose(self):
        # asked +90: step cuts to +20, quota headroom then cuts to +15,
        # the limit to +12.
        decision = self.engine.decide(make_ctx(
            want=100, max_step_gb=20,
            quota_set={'gigabytes': {'limit': 115, 'in_use': 100,
                                     'reserved': 0}},
            usage=988))
        self.assertEqual((rules.GRANT, 22), (decision.outcome,
                                             decision.size_gb))
        self.assertEqual('unified_limit', decision.rule)
        self.assertIn('step: 100→30', decision.message)
        self.assertIn('cinder_quota: 30→25', decision.message)
        self.assertIn('unified_limit: 25→22', decision.message)

    def test_first_deny_wins(self):
        decision = self.engine.decide(make_ctx(
            want=12, size_gb=12, history=[grant(1)]))
        self.assertEqual('size_mismatch', decision.reason)
        self.assertEqual([], self.checker.calls)  # Keystone not asked

    def test_limit_checks_clamped_size(self):
        self.engine.decide(make_ctx(want=300, max_step_gb=50, usage=10))
        self.assertEqual([(PRJ, 10, 50)], self.checker.calls)

    def test_pending(self):
        decision = self.engine.decide(make_ctx(
            history=[grant(1000)], auto_grants_before_approval=1))
        self.assertEqual((rules.PENDING, 12, 'approval'),
                         (decision.outcome, decision.size_gb,
                          decision.reason))
        self.assertEqual(protocol.ResponseState.PENDING,
                         decision.response_state())

    def test_dry_run_grant(self):
        decision = self.engine.decide(make_ctx(want=15, dry_run=True,
                                               cooldown_seconds=300))
        self.assertEqual((rules.DENY, 10, 'dry_run', 15, 'dry_run'),
                         (decision.outcome, decision.size_gb,
                          decision.reason, decision.would_grant_gb,
                          decision.rule))
        self.assertEqual(NOW_EPOCH + 300, decision.retry_after)
        self.assertIn('would have granted 15 GiB', decision.message)

    def test_dry_run_from_policy_and_pending(self):
        decision = self.engine.decide(make_ctx(
            dry_run=False, policy=expansion_policy.ExpansionPolicy(
                dry_run=True, auto_grants_before_approval=1),
            history=[grant(1000)]))
        self.assertEqual(('dry_run', 12), (decision.reason,
                                           decision.would_grant_gb))
        self.assertIn('approval', decision.message)

    def test_dry_run_keeps_real_denials(self):
        decision = self.engine.decide(make_ctx(
            dry_run=True, history=[grant(1)], cooldown_seconds=60))
        self.assertEqual('cooldown', decision.reason)
        self.assertIsNone(decision.would_grant_gb)

    def test_bad_rule_cannot_shrink(self):
        class Shrink(base.Rule):
            name = 'shrink'

            def apply(self, ctx, target_gb):
                return ctx.volume.size_gb

        engine = rules.Engine([Shrink()])
        self.assertRaises(AssertionError, engine.decide, make_ctx())

    def test_decision_validates_outcome(self):
        self.assertRaises(ValueError, rules.Decision, outcome='maybe',
                          size_gb=1, reason='ok', message='')


class TestBuildEngine(testtools.TestCase):
    def test_with_injected_checker(self):
        conf = self.useFixture(config_fixture.Config(cfg.ConfigOpts())).conf
        vsm_conf.register_opts(conf)
        engine = rules.build_engine(conf, enforcer=FakeChecker())
        self.assertEqual(['sanity', 'step', 'max_size', 'cooldown', 'rate',
                          'runaway', 'cinder_quota', 'unified_limit',
                          'escalation'], [r.name for r in engine.rules])

    def test_limits_disabled(self):
        conf = self.useFixture(config_fixture.Config(cfg.ConfigOpts())).conf
        vsm_conf.register_opts(conf)
        conf.set_override('enabled', False, group='unified_limits')
        engine = rules.build_engine(conf)
        self.assertNotIn('unified_limit', [r.name for r in engine.rules])
