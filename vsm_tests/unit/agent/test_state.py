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

"""The state file: round trip, corruption, atomic writes."""

import json
import os

import fixtures
import testtools

from vsm_agent import lifecycle
from vsm_agent import state

VOL = '6f1c2a4e-0b8d-4c1e-9a57-3d2f00c1ab42'


class TestStateStore(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path

    def test_round_trip_and_denial_survives(self):
        store = state.StateStore(self.dir)
        vs = store.volume(VOL)
        vs.phase, vs.seq = lifecycle.DENIED, 7
        vs.denied_request_id = 'ab' * 16
        store.volume_ids['6f1c2a4e-0b8d-4c1e-9'] = VOL
        self.assertTrue(store.save())
        self.assertFalse(store.save())
        again = state.StateStore(self.dir)
        self.assertEqual((lifecycle.DENIED, 7, 'ab' * 16),
                         (again.volume(VOL).phase, again.volume(VOL).seq,
                          again.volume(VOL).denied_request_id))
        self.assertEqual(VOL, again.volume_ids['6f1c2a4e-0b8d-4c1e-9'])
        self.assertEqual(0o600, os.stat(store.path).st_mode & 0o777)

    def test_corrupt_file_moved_aside(self):
        with open(os.path.join(self.dir, 'state.json'), 'w') as f:
            f.write('{not json')
        store = state.StateStore(self.dir)
        self.assertEqual({}, store.volumes)
        self.assertTrue(os.path.exists(store.path + '.corrupt'))

    def test_unknown_fields_and_phase_tolerated(self):
        with open(os.path.join(self.dir, 'state.json'), 'w') as f:
            json.dump({'volumes': {VOL: {'volume_id': VOL, 'phase': 'zzz',
                                         'future': 1}}}, f)
        self.assertEqual(lifecycle.IDLE, state.StateStore(self.dir).volume(
            VOL).phase)

    def test_atomic_write_leaves_no_temp_files(self):
        path = os.path.join(self.dir, 'sub', 'f')
        state.atomic_write(path, 'a')
        state.atomic_write(path, 'b')
        self.assertEqual(['f'], os.listdir(os.path.dirname(path)))
