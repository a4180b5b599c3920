"""Functional tests of the QEMU guest harness (vsm_devenv.guest).

One guest (TCG, ~10-15 s to boot) is shared by the tests of the class: it has one
512 MiB data disk per storage layout the VSM agent must grow, with serials shaped
like the first 20 characters of Cinder volume ids. Each layout test lays its disk
out in the guest, writes data, grows the disk from the host with QMP block_resize
(as Nova's libvirt driver does), checks the guest kernel saw it (uevent RESIZE=1,
/sys/block/vdX/size), grows partition/LVM/filesystem online by hand, then verifies
the data and checks the filesystem read-only after unmount.

Run:  python -m stestr --test-path vsm_tests/functional/guest run
Needs root on Debian 12 (apt packages are installed on first use), ~1.5 GB RAM.
"""
import http.server
import json
import os
import shutil
import tempfile
import threading
import time
import uuid

import testtools
from testtools import content

from vsm_devenv.guest import disks
from vsm_devenv.guest import fixture
from vsm_devenv.guest import harness
from vsm_devenv.guest import layouts
from vsm_tests import httpjson

DISK_SIZE = 512 * disks.MiB
GROWTH = 512 * disks.MiB
METADATA = {'uuid': 'c5e2a0f8-0000-4000-8000-000000000001', 'meta': {'vsm:test': 'yes'}}


class _MetadataHandler(httpjson.JsonHandler):
    def do_GET(self):
        self.server.paths.append(self.path)
        self.send_json(200, METADATA)


class GuestHarnessTest(testtools.TestCase):
    """Everything below shares one booted guest (see setUpClass)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.http = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _MetadataHandler)
        cls.http.paths = []
        threading.Thread(target=cls.http.serve_forever, daemon=True).start()
        port = cls.http.server_address[1]
        # volume ids as Cinder makes them; libvirt passes the full id, the guest sees [:20]
        cls.volumes = {name: str(uuid.uuid4())
                       for name in layouts.CORE_LAYOUTS + ('btrfs-part',)}
        cls.disks = {
            name: disks.DataDisk(DISK_SIZE, vol,
                                 fmt='qcow2' if name == 'xfs-lvm' else 'raw')
            for name, vol in cls.volumes.items()}
        # one disk laid out on the host (no root tricks), attached as a qcow2 image
        cls.tmp = tempfile.mkdtemp(prefix='vsm-guest-test-')
        host_img = disks.make_filesystem_image(
            os.path.join(cls.tmp, 'host-ext4.qcow2'), DISK_SIZE, 'ext4', fmt='qcow2')
        cls.disks['host-made'] = disks.DataDisk(0, str(uuid.uuid4()), fmt='qcow2',
                                                path=host_img)
        cls.fixture = fixture.GuestFixture(
            disks=list(cls.disks.values()),
            forwards=[harness.GuestForward('169.254.169.254', 80, port),
                      harness.GuestForward('10.0.2.100', 8774, port)])
        t0 = time.monotonic()
        cls.fixture.setUp()
        cls.guest = cls.fixture.guest
        cls.boot_seconds = time.monotonic() - t0

    @classmethod
    def tearDownClass(cls):
        cls.fixture.cleanUp()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        cls.http.shutdown()
        cls.http.server_close()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.addDetail('guest-console', self.fixture.console_detail())

    # ---- plumbing ----------------------------------------------------------------------
    def test_exec(self):
        res = self.guest.exec(['sh', '-c', 'echo "$FOO"; cat; echo err >&2; exit 3'],
                              env={'FOO': 'bar'}, input='stdin-data', check=False)
        self.assertEqual((3, 'bar\nstdin-data', 'err\n'), (res.rc, res.stdout, res.stderr))
        self.assertRaises(harness.GuestCommandFailed, self.guest.exec, ['false'])
        res = self.guest.exec(['sleep', '30'], timeout=1, check=False)
        self.assertTrue(res.timed_out)

    def test_spawn_kill_and_files(self):
        pid = self.guest.spawn(['sh', '-c', 'echo started; exec sleep 600'])
        self.assertIsNone(self.guest.poll(pid))
        self.guest.kill(pid)
        self.assertEqual(-15, self.guest.wait_exit(pid, timeout=30))
        self.assertEqual(b'started\n', self.guest.read_file(self.guest.spawn_log(pid)))
        self.guest.write_file('/var/lib/vsm/x/state.json', b'\x00\x01{"a": 1}', mode=0o600)
        self.assertEqual(b'\x00\x01{"a": 1}', self.guest.read_file('/var/lib/vsm/x/state.json'))
        self.assertEqual('600', self.guest.sh('stat -c %a /var/lib/vsm/x/state.json').strip())

    def test_repo_share_and_python_runtime(self):
        out = self.guest.exec(
            ['python3', '-c', 'import sys, keystoneauth1, oslo_config, vsm_devenv.guest.layouts; '
             'print(sys.executable, sys.version_info[:2], vsm_devenv.guest.layouts.__file__)'],
        ).stdout.split()
        self.assertEqual(['/usr/bin/python3', '(3,', '11)',
                          '/opt/vsm/vsm_devenv/guest/layouts.py'], out)
        res = self.guest.exec(['touch', '/opt/vsm/should-fail'], check=False)
        self.assertNotEqual(0, res.rc, 'the repo share must be read-only')

    def test_forwards_reach_host(self):
        for url in ('http://169.254.169.254/openstack/latest/meta_data.json',
                    'http://10.0.2.100:8774/v2.1'):
            out = self.guest.exec(['python3', '-c', 'import sys, urllib.request; print('
                                   'urllib.request.urlopen(sys.argv[1], timeout=20).read()'
                                   '.decode())', url]).stdout
            self.assertEqual(METADATA, json.loads(out))
        self.assertIn('/openstack/latest/meta_data.json', self.http.paths)

    def test_toolchain_present(self):
        self.guest.sh('for t in growpart sfdisk partx blkid lsblk findmnt resize2fs e2fsck '
                      'xfs_growfs xfs_repair mkfs.btrfs btrfs pvcreate vgcreate lvcreate pvresize '
                      'lvextend lvs pvs dmsetup fsck.ext4; do command -v $t >/dev/null || '
                      '{ echo "missing $t"; exit 1; }; done')
        self.guest.sh('grep -qw device-mapper /proc/misc || grep -q device-mapper /proc/devices')
        stats = dict(self.guest.qemu_stats(), boot_s=round(self.guest.boot_seconds, 1),
                     guest_uptime_at_ready_s=self.guest.hello['uptime'])
        self.addDetail('guest-stats', content.text_content(json.dumps(stats)))

    # ---- storage layouts ---------------------------------------------------------------
    def _grow_layout(self, name, disk=None, prepared=None):
        guest, disk = self.guest, disk or self.disks[name]
        t = {}
        t0 = time.monotonic()
        mnt = '/mnt/' + name
        p = prepared or guest.prepare_disk(name, disk.serial, mnt)
        mnt = p.mountpoint
        self.assertEqual(guest.device_for_serial(disk.serial), p.disk)
        self.assertEqual(disk.serial[:20],
                         guest.read_file('/sys/block/%s/serial' % p.disk[5:]).decode().strip())
        guest.sh('dd if=/dev/urandom of=%s/blob bs=1M count=8 2>/dev/null && sync && '
                 'md5sum %s/blob > /run/%s.md5' % (mnt, mnt, name))
        fs_before = guest.fs_size_bytes(mnt)
        self.assertEqual(DISK_SIZE, guest.disk_size_bytes(p.disk))
        t['prepare'] = time.monotonic() - t0

        t0 = time.monotonic()
        cursor = guest.block_resize(disk.node_name, DISK_SIZE + GROWTH)
        ev = guest.wait_uevent(lambda env: env.get('DEVNAME') == p.disk[5:]
                               and env.get('RESIZE') == '1', timeout=30, since=cursor)
        t['uevent'] = ev['t_host'] - t0
        self.assertEqual('change', ev['env']['ACTION'])
        self.assertEqual(DISK_SIZE + GROWTH, guest.disk_size_bytes(p.disk))
        self.assertIn('%s: detected capacity change' % p.disk[5:], guest.sh('dmesg'))

        t0 = time.monotonic()
        log = guest.grow_disk(p)
        t['grow'] = time.monotonic() - t0
        fs_after = guest.fs_size_bytes(mnt)
        self.assertGreater(fs_after, fs_before + GROWTH * 0.9, log)

        t0 = time.monotonic()
        guest.sh('md5sum -c /run/%s.md5' % name)
        check = guest.check_disk(p)
        t['verify'] = time.monotonic() - t0
        self.addDetail('timings', content.text_content(json.dumps(
            {k: round(v, 2) for k, v in t.items()})))
        self.addDetail('grow-log', content.text_content(log + check.stdout + check.stderr))
        return p

    def test_grow_ext4_on_gpt_partition(self):
        self._grow_layout('ext4-part')

    def test_grow_xfs_on_gpt_partition(self):
        self._grow_layout('xfs-part')

    def test_grow_ext4_on_whole_disk(self):
        p = self._grow_layout('ext4-whole')
        self.assertIsNone(p.partition)

    def test_grow_xfs_on_lvm_qcow2(self):
        p = self._grow_layout('xfs-lvm')
        lv = self.guest.sh('lvs --noheadings --units b --nosuffix -o lv_size %s/%s'
                           % (p.vg, p.lv)).strip()
        self.assertGreater(int(lv), DISK_SIZE + GROWTH * 0.9)

    def test_grow_btrfs_on_whole_disk(self):
        self._grow_layout('btrfs-whole')

    def test_grow_btrfs_on_gpt_partition(self):
        self._grow_layout('btrfs-part')

    def test_grow_host_made_ext4_qcow2_image(self):
        disk = self.disks['host-made']
        p = layouts.plan('ext4-part', disk.serial,
                         self.guest.device_for_serial(disk.serial), '/mnt/host-made')
        self.guest.sh('mkdir -p /mnt/host-made && mount %s /mnt/host-made' % p.partition)
        self._grow_layout('ext4-part', disk=disk, prepared=p)
