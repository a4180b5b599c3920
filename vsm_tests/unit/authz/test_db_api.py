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

"""Tests of vsm_authz.db: migrations, idempotent recording, the CAS
state machine, history, audit and policy overrides (SQLite)."""

import datetime
import threading

from alembic import autogenerate
from alembic import migration as alembic_migration
from oslo_utils import timeutils
import testtools

from vsm_agent import protocol
from vsm_authz import conf as vsm_conf
from vsm_authz.db import api as db_api
from vsm_authz.db import audit_log
from vsm_authz.db import expansions
from vsm_authz.db import fixture as db_fixture
from vsm_authz.db import migration
from vsm_authz.db import models
from vsm_authz.db import policy_overrides
from vsm_authz.db import states
from vsm_authz.db import volumes

VOL = '6f1c2a4e-0b8d-4c1e-9a57-3d2f00c1ab42'
VOL2 = '7a1c2a4e-0b8d-4c1e-9a57-3d2f00c1ab43'
SRV = '11111111-2222-4333-8444-555555555555'
PRJ = 'a' * 32


def make_request(seq=1, request_id=None, want=12, cur=10, volume_id=VOL):
    return protocol.ExpansionRequest(
        volume_id=volume_id, request_id=request_id or ('%032x' % seq),
        seq=seq, state=protocol.RequestState.REQUESTED, current_gb=cur,
        requested_gb=want, timestamp=1764097200, reason='used_pct')


class DBTestCase(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.useFixture(db_fixture.Database())

    def record(self, seq=1, size=10, **kw):
        return expansions.record_request(make_request(seq=seq, **kw), SRV, PRJ,
                                         size_gb_at_request=size)


class TestMigrations(DBTestCase):
    def test_at_head(self):
        self.assertEqual('0001_initial', migration.version())
        self.assertEqual(migration.head(), migration.version())

    def test_upgrade_is_idempotent(self):
        migration.upgrade('head')
        self.assertEqual(migration.head(), migration.version())

    def test_models_match_migrations(self):
        # A model change without a revision (or vice versa) fails here.
        with db_api.get_engine().connect() as conn:
            context = alembic_migration.MigrationContext.configure(conn)
            diff = autogenerate.compare_metadata(context,
                                                 models.Base.metadata)
        self.assertEqual([], diff)

    def test_fresh_database_has_no_version(self):
        db_api.configure_reset()
        self.useFixture(_Unmigrated())
        self.assertIsNone(migration.version())
        migration.upgrade('head')
        self.assertEqual('0001_initial', migration.version())


class _Unmigrated(db_fixture.Database):
    def _setUp(self):
        # Like Database but without the upgrade.
        import fixtures
        from oslo_config import cfg
        self.conf = cfg.ConfigOpts()
        vsm_conf.register_opts(self.conf)
        self.conf([], project='vsm')
        tmp = self.useFixture(fixtures.TempDir()).path
        self.conf.set_override('connection', 'sqlite:///%s/x.sqlite' % tmp,
                               group='database')
        db_api.configure(self.conf)
        self.addCleanup(db_api.configure_reset)


class TestRecordRequest(DBTestCase):
    def test_first_record_creates_request_and_volume(self):
        rec, created = self.record(seq=1, size=10)
        self.assertTrue(created)
        self.assertEqual(states.RecordState.RECEIVED, rec.state)
        self.assertEqual((VOL, 1, 12, 10), (rec.volume_id, rec.seq,
                                            rec.requested_gb,
                                            rec.size_gb_at_request))
        self.assertEqual(10, volumes.original_size(VOL))
        self.assertEqual(1, volumes.get_volume(VOL).highest_seq)

    def test_duplicate_is_idempotent(self):
        rec, _ = self.record(seq=1)
        again, created = self.record(seq=1)
        self.assertFalse(created)
        self.assertEqual(rec.id, again.id)
        self.assertEqual(1, len(expansions.list_requests(volume_id=VOL)))

    def test_duplicate_returns_current_state(self):
        self.record(seq=1)
        expansions.transition(VOL, '%032x' % 1, states.RecordState.DENIED, reason='quota')
        again, created = self.record(seq=1)
        self.assertFalse(created)
        self.assertEqual(states.RecordState.DENIED, again.state)

    def test_lower_seq_is_stale(self):
        self.record(seq=5)
        exc = self.assertRaises(expansions.StaleRequest, self.record, seq=4)
        self.assertEqual((4, 5), (exc.seq, exc.highest_seq))

    def test_same_seq_other_id_is_replay(self):
        self.record(seq=5)
        self.assertRaises(expansions.ReplayedRequest, self.record, seq=5,
                          request_id='f' * 32)

    def test_same_id_other_seq_is_replay(self):
        self.record(seq=5, request_id='e' * 32)
        self.assertRaises(expansions.ReplayedRequest, self.record, seq=6,
                          request_id='e' * 32)

    def test_original_size_is_first_seen(self):
        self.record(seq=1, size=10)
        self.record(seq=2, size=12, want=14)
        self.assertEqual(10, volumes.original_size(VOL))
        self.assertIsNone(volumes.original_size(VOL2))

    def test_latest_and_get(self):
        self.record(seq=1)
        self.record(seq=3, want=20)
        self.assertEqual(3, expansions.latest_request(VOL).seq)
        self.assertEqual(1, expansions.get_request(VOL, '%032x' % 1).seq)
        self.assertIsNone(expansions.get_request(VOL, 'f' * 32))
        self.assertIsNone(expansions.latest_request(VOL2))

    def test_concurrent_duplicates_make_one_row(self):
        results, errors = [], []

        def worker():
            try:
                results.append(self.record(seq=1)[1])
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        self.assertEqual([], errors)
        self.assertEqual(1, results.count(True))
        self.assertEqual(1, len(expansions.list_requests(volume_id=VOL)))


class TestTransitions(DBTestCase):
    RID = '%032x' % 1

    def setUp(self):
        super().setUp()
        self.record(seq=1)

    def test_happy_path(self):
        rec = expansions.transition(VOL, self.RID, states.RecordState.GRANTED,
                                    granted_gb=12, reason='ok', message='m')
        self.assertEqual((states.RecordState.GRANTED, 12, 'ok', True),
                         (rec.state, rec.granted_gb, rec.reason,
                          rec.automatic))
        self.assertIsNotNone(rec.granted_at)
        expansions.transition(VOL, self.RID, states.RecordState.EXTENDING)
        expansions.transition(VOL, self.RID, states.RecordState.EXTENDED,
                              final_size_gb=12)
        rec = expansions.transition(VOL, self.RID, states.RecordState.GROWN)
        self.assertEqual((states.RecordState.GROWN, 12, 'ok'),
                         (rec.state, rec.final_size_gb, rec.reason))
        self.assertTrue(rec.final)

    def test_states_are_an_enum_stored_as_before(self):
        rec = expansions.transition(VOL, self.RID, 'granted', granted_gb=12)
        self.assertIs(states.RecordState.GRANTED, rec.state)
        self.assertEqual('granted', rec.state)
        self.assertEqual('granted', '%s' % rec.state)
        with db_api.get_engine().connect() as conn:
            stored = conn.exec_driver_sql(
                'SELECT state FROM expansion_requests').scalar_one()
        self.assertEqual('granted', stored)
        self.assertEqual(str, type(stored))
        self.assertRaises(ValueError, expansions.transition, VOL, self.RID,
                          'bogus')

    def test_cas_only_one_winner(self):
        expansions.transition(VOL, self.RID, states.RecordState.GRANTED, granted_gb=12)
        exc = self.assertRaises(expansions.InvalidTransition, expansions.transition,
                                VOL, self.RID, states.RecordState.GRANTED,
                                granted_gb=13)
        self.assertEqual(states.RecordState.GRANTED, exc.current_state)
        self.assertEqual(12, expansions.get_request(VOL, self.RID).granted_gb)

    def test_cas_race_between_threads(self):
        wins, losses = [], []

        def worker():
            try:
                expansions.transition(VOL, self.RID, states.RecordState.GRANTED,
                                      granted_gb=12)
                wins.append(1)
            except expansions.InvalidTransition:
                losses.append(1)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        self.assertEqual((1, 7), (len(wins), len(losses)))

    def test_explicit_expected_states(self):
        self.assertRaises(expansions.InvalidTransition, expansions.transition,
                          VOL, self.RID, states.RecordState.DENIED,
                          expected_states=(states.RecordState.PENDING,))
        rec = expansions.transition(VOL, self.RID, states.RecordState.DENIED,
                                    expected_states=(states.RecordState.RECEIVED,),
                                    reason='quota', retry_after=123)
        self.assertEqual((states.RecordState.DENIED, 'quota', 123),
                         (rec.state, rec.reason, rec.retry_after))

    def test_forbidden_moves(self):
        self.assertRaises(ValueError, expansions.transition, VOL, self.RID,
                          'bogus')
        self.assertRaises(ValueError, expansions.transition, VOL, self.RID,
                          states.RecordState.GROWN, expected_states=(states.RecordState.RECEIVED,))
        expansions.transition(VOL, self.RID, states.RecordState.DENIED)
        self.assertRaises(expansions.InvalidTransition, expansions.transition,
                          VOL, self.RID, states.RecordState.GRANTED)

    def test_unknown_request(self):
        self.assertRaises(expansions.RequestNotFound, expansions.transition,
                          VOL, 'f' * 32, states.RecordState.GRANTED)

    def test_approved_grant_is_manual(self):
        expansions.transition(VOL, self.RID, states.RecordState.PENDING, reason='approval')
        rec = expansions.transition(VOL, self.RID, states.RecordState.GRANTED,
                                    granted_gb=12)
        self.assertFalse(rec.automatic)

    def test_in_flight(self):
        self.record(seq=2, want=14)
        expansions.transition(VOL, self.RID, states.RecordState.GRANTED, granted_gb=12)
        self.assertEqual([self.RID],
                         [r.request_id for r in expansions.in_flight()])
        self.assertEqual([], expansions.in_flight(older_than=3600))
        future = timeutils.utcnow() + datetime.timedelta(seconds=5)
        self.assertEqual(1, len(expansions.in_flight(older_than=future)))
        self.assertEqual(2, len(expansions.in_flight(
            states=states.IN_FLIGHT_STATES + (states.RecordState.RECEIVED,))))


class TestHistoryAuditOverrides(DBTestCase):
    def test_grant_history(self):
        for seq, (size, want) in enumerate(((10, 12), (12, 15), (15, 20)),
                                           start=1):
            self.record(seq=seq, size=size, want=want)
            rid = '%032x' % seq
            if seq == 2:
                expansions.transition(VOL, rid, states.RecordState.PENDING)
            if seq < 3:
                expansions.transition(VOL, rid, states.RecordState.GRANTED, granted_gb=want)
        history = volumes.grant_history(VOL)
        self.assertEqual([(10, 12, True), (12, 15, False)],
                         [(g.from_gb, g.to_gb, g.automatic)
                          for g in history])
        later = timeutils.utcnow() + datetime.timedelta(seconds=1)
        self.assertEqual([], volumes.grant_history(VOL, since=later))

    def test_audit(self):
        audit_log.audit('request.denied', request_id='a' * 32, volume_id=VOL,
                        project_id=PRJ, reason='quota', detail={'size': 10})
        audit_log.audit('request.invalid', server_id=SRV, detail='bad value')
        entries = audit_log.list_audit()
        self.assertEqual(['request.invalid', 'request.denied'],
                         [e.event for e in entries])
        self.assertEqual({'size': 10}, entries[1].detail)
        self.assertEqual('bad value', entries[0].detail)
        self.assertEqual(1, len(audit_log.list_audit(volume_id=VOL)))
        self.assertEqual(1, len(audit_log.list_audit(event='request.invalid')))

    def test_list_requests_filters(self):
        self.record(seq=1)
        self.record(seq=1, volume_id=VOL2)
        expansions.transition(VOL2, '%032x' % 1, states.RecordState.DENIED)
        self.assertEqual(2, len(expansions.list_requests(project_id=PRJ)))
        self.assertEqual(1, len(expansions.list_requests(state='denied')))
        self.assertEqual(2, len(expansions.list_requests(
            state=['denied', 'received'])))
        self.assertEqual(1, len(expansions.list_requests(limit=1)))

    def test_policy_overrides(self):
        self.assertEqual({}, policy_overrides.get_policy_overrides(PRJ))
        policy_overrides.set_policy_overrides(PRJ, {'max_size_gb': 50})
        policy_overrides.set_policy_overrides(PRJ, {'max_size_gb': 60,
                                                    'dry_run': True})
        self.assertEqual({'max_size_gb': 60, 'dry_run': True},
                         policy_overrides.get_policy_overrides(PRJ))
        self.assertEqual([PRJ], list(policy_overrides.list_policy_overrides()))
        policy_overrides.set_policy_overrides(PRJ, {})
        self.assertEqual({}, policy_overrides.get_policy_overrides(PRJ))
