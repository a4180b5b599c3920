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

"""The motd alert and the status file."""

import os

import fixtures
import testtools

from vsm_agent import alerts

VOL = '6f1c2a4e-0b8d-4c1e-9a57-3d2f00c1ab42'


class TestAlerts(testtools.TestCase):

    def test_motd_written_and_cleared(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        log = self.useFixture(fixtures.FakeLogger())
        a = alerts.Alerts(os.path.join(tmp, 'motd.d'), '90-vsm',
                          os.path.join(tmp, 'status.json'))
        a.update({VOL: '/srv: DENIED'})
        with open(os.path.join(tmp, 'motd.d', '90-vsm')) as f:
            self.assertIn('/srv: DENIED', f.read())
        self.assertIn('VSM alert for volume %s' % VOL, log.output)
        a.update({})
        self.assertFalse(os.path.exists(os.path.join(tmp, 'motd.d',
                                                     '90-vsm')))
        self.assertTrue(a.write_status({'a': 1}))
        self.assertFalse(a.write_status({'a': 1}))
        self.assertEqual({'a': 1}, alerts.read_status(
            os.path.join(tmp, 'status.json')))
