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

"""Unit tests for vsm_agent.blockdev: mountinfo and device-mapper names."""

import testtools

from vsm_agent import blockdev


class TestBlockdev(testtools.TestCase):

    scenarios_dm = [
        ('vg-lv', ('vg', 'lv')),
        ('vg--data-lv0', ('vg-data', 'lv0')),
        ('a--b-c--d', ('a-b', 'c-d')),
        ('nodash', None),
        ('-lv', None),
    ]

    def test_decode_dm_name(self):
        for name, expected in self.scenarios_dm:
            self.assertEqual(expected, blockdev.decode_dm_name(name), name)

    def test_parse_mountinfo_skips_garbage(self):
        text = ('36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 '
                '/dev/root rw,errors=continue\n'
                'garbage line\n')
        (info,) = blockdev.parse_mountinfo(text)
        self.assertEqual((98, 0, '/mnt1', '/mnt2', 'ext3', '/dev/root'),
                         (info.major, info.minor, info.root, info.mountpoint,
                          info.fstype, info.source))
