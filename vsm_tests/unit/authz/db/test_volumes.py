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

"""Tests of vsm_authz.db.volumes: the grant history (SQLite)."""

import datetime

from oslo_utils import timeutils

from vsm_authz.db import expansions
from vsm_authz.db import states
from vsm_authz.db import volumes
from vsm_tests.unit.authz.db import base

VOL = base.VOL


class TestGrantHistory(base.DBTestCase):
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
