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

"""Tests of vsm_authz.db.audit_log (SQLite)."""

from vsm_authz.db import audit_log
from vsm_tests.unit.authz.db import base

VOL, SRV, PRJ = base.VOL, base.SRV, base.PRJ


class TestAuditLog(base.DBTestCase):
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
