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

"""Decision engine and state benchmarks. Printed, not asserted.

``python -m benchmarks.authz_decide_bench [--seconds 3]``

1. **Decisions per worker** (budget: >= 100/s, DESIGN §8): the real
   engine (``rules.build_engine``) with the real
   :class:`vsm_authz.keystone_limits.LimitChecker` over oslo.limit, whose Keystone
   is ``oslo_limit.fixture.LimitFixture`` (in-process: Keystone's network
   time is excluded, like Cinder's). Cases:

   * *engine*: ``engine.decide`` alone, limits cached (the default
     ``[unified_limits] cache_seconds = 60``), a 20-grant history;
   * *engine, no limit cache*: ``cache_seconds = 0`` (oslo.limit rebuilds
     its enforcer and re-reads the limits on each check);
   * *with state*: what a worker really does per request around the
     engine on SQLite — ``effective_policy`` (DB overrides),
     ``grant_history``, ``original_size`` reads, then ``decide``.

2. **State operations on SQLite** (one thread): ``record_request`` +
   ``transition`` x3 (granted → extending → extended) per request, and
   ``audit`` appends.
"""

import argparse
import datetime
import os
import sys
import tempfile
import time

from oslo_config import cfg
from oslo_limit import fixture as limit_fixture
from oslo_utils import timeutils

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from vsm_agent import protocol  # noqa: E402
from vsm_authz import conf as vsm_conf  # noqa: E402
from vsm_authz import db as db_api  # noqa: E402
from vsm_authz.db import migration  # noqa: E402
from vsm_authz import expansion_policy  # noqa: E402
from vsm_authz import rules  # noqa: E402

PRJ = 'a' * 32
SRV = '11111111-2222-4333-8444-555555555555'


def volume_id(n):
    return '6f1c2a4e-0b8d-4c1e-9a57-%012x' % n


def rate(fn, seconds):
    """Calls per second of ``fn`` over about ``seconds``."""
    fn()  # warm-up (caches, first connection)
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        fn()
        count += 1
        if count % 10 == 0 and time.perf_counter() >= deadline:
            break
    return count / (time.perf_counter() - start)


def make_ctx(policy, history):
    now = timeutils.utcnow()
    request = protocol.ExpansionRequest(
        volume_id=volume_id(1), request_id=protocol.new_request_id(), seq=99,
        state=protocol.RequestState.REQUESTED, current_gb=40,
        requested_gb=45, timestamp=int(time.time()), reason='used_pct')
    return rules.DecisionContext(
        request=request,
        volume=rules.VolumeFacts(volume_id(1), PRJ, SRV, 40, 'fake',
                                 'in-use', 10),
        quota={'gigabytes': {'limit': 1000, 'in_use': 400, 'reserved': 0},
               'gigabytes_fake': {'limit': -1, 'in_use': 400,
                                  'reserved': 0},
               'per_volume_gigabytes': {'limit': -1, 'in_use': 0,
                                        'reserved': 0}},
        volume_history=history, project_usage_gb=400, policy=policy,
        now=now)


def bench_decisions(conf, seconds):
    cfg.CONF([], project='vsm')
    vsm_conf.register_opts(cfg.CONF)
    cfg.CONF.set_override('endpoint_id', 'bench', group='oslo_limit')
    fixture = limit_fixture.LimitFixture(
        {'vsm_storage_gigabytes': 1000}, {PRJ: {'vsm_storage_gigabytes': 800}})
    fixture.setUp()
    try:
        policy = expansion_policy.ExpansionPolicy(cooldown_seconds=0,
                                                  max_grants_per_hour=0,
                                                  max_grants_per_day=0)
        start = timeutils.utcnow() - datetime.timedelta(hours=30)
        history = [rules.GrantRecord(start + datetime.timedelta(hours=i),
                                     10 + i, 11 + i, True)
                   for i in range(20)]
        results = {}
        for label, cache_seconds in (('engine', 60),
                                     ('engine, no limit cache', 0)):
            cfg.CONF.set_override('cache_seconds', cache_seconds,
                                  group='unified_limits')
            engine = rules.build_engine(cfg.CONF)
            ctx = make_ctx(policy, history)
            decision = engine.decide(ctx)
            assert decision.outcome == 'grant', decision
            results[label] = rate(lambda: engine.decide(ctx), seconds)

        cfg.CONF.set_override('cache_seconds', 60, group='unified_limits')
        engine = rules.build_engine(cfg.CONF)
        vsm_conf.register_opts(conf)
        db_api.set_policy_overrides(PRJ, {'cooldown_seconds': 0,
                                          'max_grants_per_hour': 0,
                                          'max_grants_per_day': 0})

        def with_state():
            pol = expansion_policy.effective_policy(conf, db_api, PRJ)
            hist = db_api.grant_history(volume_id(1))
            db_api.original_size(volume_id(1))
            return engine.decide(make_ctx(pol, hist))

        assert with_state().outcome == 'grant'
        results['with state (SQLite reads)'] = rate(with_state, seconds)
        return results
    finally:
        fixture.cleanUp()


def bench_state(seconds):
    counter = iter(range(10, 10 ** 9))

    def one_request():
        n = next(counter)
        req = protocol.ExpansionRequest(
            volume_id=volume_id(n), request_id='%032x' % n, seq=1,
            state=protocol.RequestState.REQUESTED, current_gb=10,
            requested_gb=12, timestamp=int(time.time()), reason='used_pct')
        db_api.record_request(req, SRV, PRJ, 10)
        db_api.transition(req.volume_id, req.request_id, 'granted',
                          granted_gb=12, reason='ok')
        db_api.transition(req.volume_id, req.request_id, 'extending')
        db_api.transition(req.volume_id, req.request_id, 'extended',
                          final_size_gb=12)

    def one_audit():
        db_api.audit('request.granted', volume_id=volume_id(1),
                     project_id=PRJ, reason='ok', detail={'size': 12})

    lifecycle = rate(one_request, seconds)
    return {'request lifecycle (record + 3 transitions)': lifecycle,
            '  = DB operations': lifecycle * 4,
            'audit append': rate(one_audit, seconds)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=3.0,
                        help='duration of each measurement')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        conf = cfg.ConfigOpts()
        vsm_conf.register_opts(conf)
        conf([], project='vsm')
        conf.set_override('connection', 'sqlite:///%s/vsm.sqlite' % tmp,
                          group='database')
        db_api.configure(conf)
        migration.upgrade('head')
        decisions = bench_decisions(conf, args.seconds)
        state = bench_state(args.seconds)
        db_api.configure_reset()
    print('authz decision engine, one worker thread (budget >= 100/s)')
    for label, value in decisions.items():
        print('  %-45s %9.0f decisions/s' % (label, value))
    print('authz state on SQLite, one thread')
    for label, value in state.items():
        print('  %-45s %9.0f /s' % (label, value))


if __name__ == '__main__':
    main()
