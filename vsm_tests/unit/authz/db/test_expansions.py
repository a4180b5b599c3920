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

"""Tests of vsm_authz.db.expansions: idempotent recording, stale and
replayed requests, the compare-and-set transitions (SQLite)."""

import datetime
import threading

from oslo_utils import timeutils

from vsm_authz.db import api as db_api
from vsm_authz.db import expansions
from vsm_authz.db import states
from vsm_authz.db import volumes
from vsm_tests.unit.authz.db import base

VOL, VOL2, PRJ = base.VOL, base.VOL2, base.PRJ


class TestRecordRequest(base.DBTestCase):
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


class TestTransitions(base.DBTestCase):
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

    def test_list_requests_filters(self):
        self.record(seq=1)
        self.record(seq=1, volume_id=VOL2)
        expansions.transition(VOL2, '%032x' % 1, states.RecordState.DENIED)
        self.assertEqual(2, len(expansions.list_requests(project_id=PRJ)))
        self.assertEqual(1, len(expansions.list_requests(state='denied')))
        self.assertEqual(2, len(expansions.list_requests(
            state=['denied', 'received'])))
        self.assertEqual(1, len(expansions.list_requests(limit=1)))
