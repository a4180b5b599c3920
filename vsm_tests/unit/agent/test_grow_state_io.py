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

"""The grow pipeline (fake runner), state persistence, uevents, channel."""

import http.server
import json
import os
import threading

import fixtures
import testtools

from vsm_agent import alerts
from vsm_agent import channel
from vsm_agent import discovery
from vsm_agent import grow
from vsm_agent import lifecycle
from vsm_agent import state
from vsm_agent import uevents
from vsm_tests import httpjson

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


class TestStateStore(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path

    def test_round_trip_and_denial_survives(self):
        store = state.StateStore(self.dir)
        vs = store.volume(VOL)
        vs.phase, vs.seq, vs.denied_request_id = lifecycle.DENIED, 7, 'ab' * 16
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


class TestBackoff(testtools.TestCase):

    def test_grows_and_caps_and_resets(self):
        b = channel.Backoff(initial=2, maximum=30)
        delays = [b.failed(0) for _ in range(8)]
        self.assertTrue(1 <= delays[0] <= 2)
        self.assertTrue(all(d <= 30 for d in delays))
        self.assertGreaterEqual(delays[-1], 15)
        self.assertFalse(b.ready(0))
        b.succeeded()
        self.assertTrue(b.ready(0))


class _StandIn(httpjson.JsonHandler):
    document = {}

    def do_GET(self):
        self.send_json(200, self.document)


class TestChannelReads(testtools.TestCase):

    def setUp(self):
        super().setUp()
        _StandIn.document = {'uuid': 'srv-1', 'meta': {'a': 'b'},
                             'devices': [{'type': 'disk', 'serial': VOL},
                                         {'type': 'nic', 'mac': 'x'}]}
        self.server = http.server.HTTPServer(('127.0.0.1', 0), _StandIn)
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)

    def test_metadata_service(self):
        chan = channel.NovaChannel('http://127.0.0.1:%d/meta_data.json'
                                   % self.server.server_port)
        self.assertEqual({'a': 'b'}, chan.read_metadata())
        self.assertEqual('srv-1', chan.server_id)
        self.assertEqual({VOL}, chan.device_volume_ids())
        self.assertFalse(chan.can_write)

    def test_unreachable_without_credentials_raises(self):
        chan = channel.NovaChannel('http://127.0.0.1:1/x',
                                   metadata_timeout_s=0.2)
        e = self.assertRaises(channel.ChannelError, chan.read_metadata)
        self.assertTrue(e.transient)
        e = self.assertRaises(channel.ChannelError, chan.write, 'k', 'v')


class TestChannelApi(testtools.TestCase):
    """Writes and API reads against the HTTP stand-in (a local server)."""

    def setUp(self):
        super().setUp()
        from vsm_tests.functional.agent import standin
        self.standin = standin.StandIn('srv-1', volumes=[VOL]).start()
        self.addCleanup(self.standin.stop)

    def channel(self, **kw):
        args = dict(metadata_url=self.standin.url
                    + '/openstack/latest/meta_data.json',
                    auth_url=self.standin.url + '/v3',
                    application_credential_id='cred-id',
                    application_credential_secret='cred-secret',
                    write_jitter_s=0.0)
        args.update(kw)
        return channel.NovaChannel(**args)

    def test_single_key_put_in_process_and_isolated(self):
        for isolate in (False, True):
            chan = self.channel(isolate_api_calls=isolate)
            chan.write('vsm:test', 'v%s' % isolate)
            self.assertEqual('v%s' % isolate,
                             self.standin.metadata['vsm:test'])
            self.assertEqual({VOL}, chan.attached_volume_ids())
        self.assertEqual([], self.standin.errors)

    def test_api_read_fallback(self):
        self.standin.metadata['k'] = 'v'
        chan = self.channel(metadata_url='http://127.0.0.1:1/x',
                            metadata_timeout_s=0.2, server_id='srv-1',
                            isolate_api_calls=False)
        self.assertEqual({'k': 'v'}, chan.read_metadata())
        self.assertEqual('api', chan.last_read_source)

    def test_http_errors_classified(self):
        chan = self.channel(server_id='other', isolate_api_calls=False)
        e = self.assertRaises(channel.ChannelError, chan.write, 'k', 'v')
        self.assertEqual((404, False), (e.status, e.transient))
        chan = self.channel(application_credential_secret='wrong',
                            server_id='srv-1', isolate_api_calls=False)
        e = self.assertRaises(channel.ChannelError, chan.write, 'k', 'v')
        self.assertTrue(e.transient)
