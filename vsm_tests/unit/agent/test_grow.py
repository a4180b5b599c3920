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

"""The grow pipeline with a fake command runner."""

import json
import os

import testtools

from vsm_agent import discovery
from vsm_agent import grow

VOL = '6f1c2a4e-0b8d-4c1e-9a57-3d2f00c1ab42'


class FakeStatvfs:
    def __init__(self, sizes):
        self.sizes = list(sizes)

    def __call__(self, path):
        size = self.sizes.pop(0) if len(self.sizes) > 1 else self.sizes[0]
        return os.statvfs_result((4096, 4096, size // 4096, 0, 0, 0, 0, 0,
                                  0, 255))


class FakeRunner:
    def __init__(self, results=None):
        self.calls = []
        self.results = results or {}

    def __call__(self, argv):
        self.calls.append(tuple(argv))
        key = ' '.join(argv[:2])
        return self.results.get(key, self.results.get(argv[0], (0, 'ok')))


def mount(**kw):
    base = dict(mountpoint='/srv', fstype='ext4', source='/dev/vdb1',
                fs_device='vdb1', partition='vdb1', partition_number=1,
                disk='vdb', serial=VOL[:20], volume_id=VOL)
    base.update(kw)
    return discovery.Mount(**base)


class TestGrowPlan(testtools.TestCase):

    def test_table(self):
        lv = discovery.LogicalVolume('vg', 'lv', 'vg-lv', ('vdb1',))
        table = [
            (mount(), [('growpart', '/dev/vdb', '1'),
                       ('resize2fs', '/dev/vdb1')]),
            (mount(fstype='xfs', partition=None, partition_number=None,
                   fs_device='vdb'), [('xfs_growfs', '/srv')]),
            (mount(fstype='btrfs', partition=None, fs_device='vdb'),
             [('btrfs', 'filesystem', 'resize', 'max', '/srv')]),
            (mount(fstype='xfs', lvm=lv, fs_device='dm-0'),
             [('growpart', '/dev/vdb', '1'), ('pvresize', '/dev/vdb1'),
              ('lvextend', '-l', '+100%FREE', '/dev/vg/lv'),
              ('xfs_growfs', '/srv')]),
        ]
        for m, expected in table:
            self.assertEqual(expected, [argv for _, argv in grow.plan(m)])

    def test_refuses_unmapped_and_unsupported(self):
        self.assertRaises(grow.GrowRefused, grow.plan, mount(volume_id=None))
        self.assertRaises(grow.GrowRefused, grow.plan,
                          mount(not_expandable_why='no'))
        self.assertRaises(grow.GrowRefused, grow.plan, mount(fstype='vfat'))


class TestGrow(testtools.TestCase):

    def test_partition_then_fs(self):
        runner = FakeRunner()
        result = grow.grow(mount(), runner, FakeStatvfs([1 << 30, 2 << 30]))
        self.assertTrue(result.ok and result.changed)
        self.assertEqual([('growpart', '--dry-run', '/dev/vdb', '1'),
                          ('growpart', '/dev/vdb', '1'),
                          ('resize2fs', '/dev/vdb1')], runner.calls)
        self.assertEqual(2 << 30, result.new_size_bytes)

    def test_growpart_nochange_is_fine(self):
        runner = FakeRunner({'growpart --dry-run': (1, 'NOCHANGE: ...')})
        result = grow.grow(mount(), runner, FakeStatvfs([1 << 30, 2 << 30]))
        self.assertTrue(result.ok)
        self.assertNotIn(('growpart', '/dev/vdb', '1'), runner.calls)
        self.assertIn(('resize2fs', '/dev/vdb1'), runner.calls)

    def test_growpart_failure_stops_before_fs(self):
        runner = FakeRunner({'growpart --dry-run': (2, 'FAILED: sfdisk')})
        result = grow.grow(mount(), runner, FakeStatvfs([1 << 30]))
        self.assertFalse(result.ok)
        self.assertEqual('growpart', result.failed_step)
        self.assertIn('FAILED: sfdisk', result.error)
        self.assertNotIn(('resize2fs', '/dev/vdb1'), runner.calls)

    def test_fs_failure_reported(self):
        runner = FakeRunner({'resize2fs': (1, 'resize2fs: Permission denied')})
        result = grow.grow(mount(), runner, FakeStatvfs([1 << 30]))
        self.assertEqual(('filesystem', False),
                         (result.failed_step, result.ok))
        self.assertIn('failed at filesystem: exit 1: resize2fs',
                      result.summary())

    def test_lvextend_skipped_without_free_extents(self):
        lv = discovery.LogicalVolume('vg', 'lv', 'vg-lv', ('vdb',))
        report = json.dumps({'report': [{'vg': [{'vg_free_count': '0'}]}]})
        runner = FakeRunner({'vgs': (0, '  WARNING: x\n' + report)})
        m = mount(fstype='xfs', lvm=lv, partition=None, fs_device='dm-0')
        result = grow.grow(m, runner, FakeStatvfs([1 << 30]))
        self.assertTrue(result.ok)
        self.assertFalse(result.changed)
        self.assertNotIn('lvextend', [c[0] for c in runner.calls])

    def test_missing_tool(self):
        rc, out = grow.run_command(('vsm-no-such-tool',))
        self.assertEqual(127, rc)
