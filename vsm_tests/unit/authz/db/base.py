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

"""What the tests of :mod:`vsm_authz.db` share: a fresh migrated
database per test and requests to record (this module holds no tests)."""

import testtools

from vsm_agent import protocol
from vsm_authz.db import expansions
from vsm_authz.db import fixture as db_fixture

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
