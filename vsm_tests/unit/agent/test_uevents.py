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

"""Kernel uevent parsing."""

import testtools

from vsm_agent import uevents


class TestUevents(testtools.TestCase):

    def test_parse_resize(self):
        data = (b'change@/devices/pci0000:00/virtio2/block/vdb\0'
                b'ACTION=change\0DEVPATH=/devices/x/block/vdb\0'
                b'SUBSYSTEM=block\0RESIZE=1\0DEVNAME=vdb\0DEVTYPE=disk\0'
                b'SEQNUM=1234\0')
        env = uevents.parse_uevent(data)
        self.assertEqual('vdb', env['DEVNAME'])
        self.assertTrue(uevents.is_capacity_change(env))
        env['RESIZE'] = '0'
        self.assertFalse(uevents.is_capacity_change(env))
        self.assertFalse(uevents.is_capacity_change(
            uevents.parse_uevent(b'add@/x\0ACTION=add\0DEVNAME=vdc\0')))
