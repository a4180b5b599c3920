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

"""Discovery against fixture /proc, /sys and /dev trees."""

import testtools

from vsm_agent import discovery
from vsm_tests.unit.agent import fakes

VOL_A = '6f1c2a4e-0b8d-4c1e-9a57-3d2f00c1ab42'
VOL_B = '0c4a5e6f-7a8b-4c0d-8e2f-3a4b5c6d7e8f'
VOL_C = '11111111-2222-4333-8444-555555555555'


class TestDiscovery(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.sys = self.useFixture(fakes.FakeSystem())

    def discover(self, known=(VOL_A, VOL_B, VOL_C), **kw):
        mounts = discovery.discover(self.sys.roots, known, **kw)
        return {m.mountpoint: m for m in mounts}

    def test_virtio_partition(self):
        self.sys.add_disk('vdb', 10 * fakes.GIB, serial=VOL_A[:20])
        dev = self.sys.add_partition('vdb', 1)
        self.sys.mount('/srv/data', 'ext4', dev, '/dev/vdb1')
        m = self.discover()['/srv/data']
        self.assertEqual(('vdb1', 'vdb1', 1, 'vdb'),
                         (m.fs_device, m.partition, m.partition_number,
                          m.disk))
        self.assertEqual(VOL_A, m.volume_id)
        self.assertTrue(m.expandable)
        self.assertEqual(10 * fakes.GIB, m.disk_bytes)
        self.assertEqual('/dev/vdb1', m.device_path)

    def test_unpartitioned_disk(self):
        dev = self.sys.add_disk('vdc', serial=VOL_B[:20])
        self.sys.mount('/data', 'xfs', dev, '/dev/vdc')
        m = self.discover()['/data']
        self.assertIsNone(m.partition)
        self.assertEqual('vdc', m.disk)
        self.assertEqual(VOL_B, m.volume_id)

    def test_lvm_on_partition(self):
        self.sys.add_disk('vdb', serial=VOL_A[:20])
        self.sys.add_partition('vdb', 1)
        dev = self.sys.add_lv(0, 'vg-data', 'lv0', ['vdb1'])
        self.sys.mount('/srv', 'xfs', dev, '/dev/mapper/vg--data-lv0')
        m = self.discover()['/srv']
        self.assertEqual(('vg-data', 'lv0'), (m.lvm.vg, m.lvm.lv))
        self.assertEqual('/dev/vg-data/lv0', m.device_path)
        self.assertEqual('/dev/vdb1', m.pv_path)
        self.assertEqual(('vdb1', 'vdb'), (m.partition, m.disk))
        self.assertEqual(VOL_A, m.volume_id)
        self.assertTrue(m.expandable)

    def test_lvm_on_whole_disk(self):
        self.sys.add_disk('vdd', serial=VOL_C[:20])
        dev = self.sys.add_lv(1, 'vg', 'lv', ['vdd'])
        self.sys.mount('/lv', 'ext4', dev, '/dev/mapper/vg-lv')
        m = self.discover()['/lv']
        self.assertEqual('/dev/vdd', m.pv_path)
        self.assertIsNone(m.partition)
        self.assertEqual(VOL_C, m.volume_id)

    def test_lvm_spanning_two_pvs_not_expandable(self):
        self.sys.add_disk('vdb', serial=VOL_A[:20])
        self.sys.add_disk('vdc', serial=VOL_B[:20])
        dev = self.sys.add_lv(0, 'vg', 'big', ['vdb', 'vdc'])
        self.sys.mount('/big', 'xfs', dev, '/dev/mapper/vg-big')
        m = self.discover()['/big']
        self.assertFalse(m.expandable)
        self.assertIn('spans 2 physical volumes', m.not_expandable_why)

    def test_root_from_image_not_expandable(self):
        self.sys.add_disk('vda', 20 * fakes.GIB, serial=None)
        dev = self.sys.add_partition('vda', 1)
        self.sys.mount('/', 'ext4', dev, '/dev/vda1')
        m = self.discover()['/']
        self.assertFalse(m.expandable)
        self.assertIsNone(m.volume_id)
        self.assertIn('no serial', m.not_expandable_why)
        self.assertIn('image', m.not_expandable_why)

    def test_unknown_serial_is_reported_for_lookup(self):
        self.sys.add_disk('vdb', serial='ffffffff-0000-4000-8')
        self.sys.mount('/x', 'ext4', (252, 0), '/dev/vdb')
        mounts = discovery.discover(self.sys.roots, (VOL_A,))
        self.assertFalse(mounts[0].expandable)
        self.assertEqual({'ffffffff-0000-4000-8'},
                         discovery.unresolved_serials(mounts))

    def test_virtio_scsi_by_id(self):
        self.sys.add_disk('sda', major=8, bus='scsi')
        self.sys.add_by_id('scsi-0QEMU_QEMU_HARDDISK_' + VOL_B, 'sda')
        self.sys.add_by_id('scsi-0QEMU_QEMU_HARDDISK_' + VOL_B + '-part1',
                           'sda1')
        dev = self.sys.add_partition('sda', 1)
        self.sys.mount('/scsi', 'ext4', dev, '/dev/sda1')
        m = self.discover()['/scsi']
        self.assertEqual(VOL_B, m.serial)
        self.assertEqual(VOL_B, m.volume_id)

    def test_btrfs_anonymous_device_number_uses_source(self):
        self.sys.add_disk('vde', serial=VOL_C[:20])
        self.sys.mount('/b', 'btrfs', (0, 45), '/dev/vde')
        m = self.discover()['/b']
        self.assertEqual('vde', m.disk)
        self.assertEqual(VOL_C, m.volume_id)

    def test_bind_mount_listed_once_under_fs_root(self):
        dev = self.sys.add_disk('vdb', serial=VOL_A[:20])
        self.sys.mount('/var/lib/x', 'xfs', dev, '/dev/vdb', root='/sub')
        self.sys.mount('/data', 'xfs', dev, '/dev/vdb')
        self.sys.mount('/again', 'xfs', dev, '/dev/vdb')
        self.assertEqual(['/data'], list(self.discover()))

    def test_pseudo_filesystems_skipped(self):
        self.assertEqual({}, self.discover())

    def test_unsupported_filesystem(self):
        dev = self.sys.add_disk('vdb', serial=VOL_A[:20])
        self.sys.mount('/v', 'vfat', dev, '/dev/vdb')
        m = self.discover()['/v']
        self.assertFalse(m.expandable)
        self.assertIn('vfat', m.not_expandable_why)

    def test_include_exclude(self):
        for i, mp in enumerate(['/srv/a', '/srv/b', '/data']):
            dev = self.sys.add_disk('vd%s' % 'bcd'[i], serial=VOL_A[:20])
            self.sys.mount(mp, 'ext4', dev, '/dev/vd%s' % 'bcd'[i])
        sel = discovery.MountSelector(include=['/srv/*'], exclude=['/srv/b'])
        self.assertEqual(['/srv/a'], list(self.discover(selector=sel)))
        sel = discovery.MountSelector(exclude=['/data'])
        self.assertEqual(['/srv/a', '/srv/b'],
                         sorted(self.discover(selector=sel)))

    def test_static_volume_mapping(self):
        dev = self.sys.add_disk('loop3', major=7)
        self.sys.mount('/l', 'xfs', dev, '/dev/loop3')
        mounts = discovery.discover(self.sys.roots, (),
                                    static_volumes=['loop3=' + VOL_A])
        self.assertEqual(VOL_A, mounts[0].volume_id)
        self.assertTrue(mounts[0].expandable)

    def test_mountpoint_with_space(self):
        dev = self.sys.add_disk('vdb', serial=VOL_A[:20])
        self.sys.mount('/my data', 'ext4', dev, '/dev/vdb')
        self.assertEqual(['/my data'], list(self.discover()))

    def test_disk_size_follows_sysfs(self):
        self.sys.add_disk('vdb', 10 * fakes.GIB, serial=VOL_A[:20])
        self.sys.set_size('vdb', 12 * fakes.GIB)
        self.assertEqual(12 * fakes.GIB,
                         discovery.disk_size_bytes(self.sys.roots, 'vdb'))


class TestHelpers(testtools.TestCase):

    def test_match_volume_id(self):
        known = [VOL_A, VOL_B]
        self.assertEqual(VOL_A, discovery.match_volume_id(VOL_A[:20], known))
        self.assertEqual(VOL_A, discovery.match_volume_id(VOL_A, known))
        self.assertEqual(VOL_A,
                         discovery.match_volume_id(VOL_A[:20].upper(), known))
        self.assertIsNone(discovery.match_volume_id('QM00001', known))
        self.assertIsNone(discovery.match_volume_id(None, known))
        twin = VOL_A[:20] + 'ffffffffffffffff'
        self.assertIsNone(discovery.match_volume_id(VOL_A[:20],
                                                    [VOL_A, twin]))
