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

"""The agent in a real guest kernel under QEMU grows real filesystems online.

One guest (vsm_devenv.guest, TCG) is shared by the class. It has one
virtio-blk data disk per storage layout, each with the serial a Cinder
volume would have (volume id[:20]), plus one disk whose requests the
control plane denies. The agent runs *inside* the guest from the repo
(/opt/vsm over 9p) as ``vsm-agent run``; its metadata service
(169.254.169.254:80) and Nova API + Keystone (10.0.2.100:8774) are the HTTP
stand-in on the host (standin.py) reached through QEMU guestfwd. The
stand-in plays the control plane: it answers ``granted``, grows the disk
with QMP ``block_resize`` (what Nova's libvirt driver does on Cinder's
volume-extended event) and answers ``extended``.

Each scenario: write data and note its checksum, fill the filesystem past
the threshold, then wait for the agent's request, the grant, the online
grow and the ``grown`` acknowledgement; check the filesystem grew, the
data is intact and fsck (read-only, after unmount) is clean.

Run:  python -m stestr --test-path vsm_tests/functional/agent run \
          --concurrency 1
Needs root on Debian 12; the guest image is built (and cached outside the
clone) on first use by vsm_devenv.guest.build.
"""

import json
import os
import shutil
import time
import uuid

import testtools
from testtools import content

from vsm_tests.functional.agent import standin as standin_mod

try:
    from vsm_devenv.guest.disks import DataDisk
    from vsm_devenv.guest.disks import GiB
    from vsm_devenv.guest.fixture import GuestFixture
    from vsm_devenv.guest.harness import GuestForward
    HARNESS_ERROR = None
except ImportError as exc:  # the harness is optional test infrastructure
    HARNESS_ERROR = exc

API_ADDR, API_PORT = '10.0.2.100', 8774
CONF_PATH = '/etc/vsm-agent/vsm-agent.conf'
SCENARIOS = ('ext4-part', 'xfs-part', 'ext4-whole', 'xfs-lvm', 'btrfs-whole')
DENIED = 'denied-ext4'
GROW_TIMEOUT = 240

FILL_SCRIPT = r'''
import os, sys
path, target = sys.argv[1], float(sys.argv[2])
def used():
    st = os.statvfs(path)
    u = st.f_blocks - st.f_bfree
    return 100.0 * u / (u + st.f_bavail)
i = 0
while used() < target:
    fd = os.open('%s/ballast-%d' % (path, i), os.O_CREAT | os.O_WRONLY)
    try:
        os.posix_fallocate(fd, 0, 16 << 20)
    except OSError:
        break
    finally:
        os.close(fd)
    os.sync()
    i += 1
print('%.1f' % used())
'''


def _skip_reason():
    if HARNESS_ERROR is not None:
        return 'QEMU guest harness unavailable: %s' % HARNESS_ERROR
    if os.geteuid() != 0:
        return 'needs root (QEMU guest with 9p share)'
    if not shutil.which('qemu-system-x86_64'):
        return 'needs qemu-system-x86 (apt-get install qemu-system-x86)'
    return None


class TestAgentInGuest(testtools.TestCase):
    """All scenarios share one booted guest and one running agent."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.skip_reason = _skip_reason()
        if cls.skip_reason:
            return
        t0 = time.time()
        cls.server_id = str(uuid.uuid4())
        cls.volumes = {name: str(uuid.uuid4())
                       for name in SCENARIOS + (DENIED,)}
        cls.disks = {name: DataDisk(GiB, vol)
                     for name, vol in cls.volumes.items()}
        cls.node_of = {vol: cls.disks[name].node_name
                       for name, vol in cls.volumes.items()}
        cls.standin = standin_mod.StandIn(
            cls.server_id, volumes=list(cls.volumes.values()),
            resize=cls._resize,
            public_base='http://%s:%d' % (API_ADDR, API_PORT)).start()
        cls.standin.modes[cls.volumes[DENIED]] = 'deny'
        port = cls.standin.port
        cls.fixture = GuestFixture(
            disks=list(cls.disks.values()),
            forwards=[GuestForward('169.254.169.254', 80, port),
                      GuestForward(API_ADDR, API_PORT, port)],
            memory_mb=768)
        try:
            cls.fixture.setUp()
        except Exception:
            cls.standin.stop()
            raise
        cls.guest = cls.fixture.guest
        cls.timings = {'boot_s': round(cls.guest.boot_seconds, 1)}
        cls.prepared = {}
        for name in SCENARIOS:
            cls.prepared[name] = cls.guest.prepare_disk(
                name, cls.volumes[name], '/mnt/' + name)
        cls.prepared[DENIED] = cls.guest.prepare_disk(
            'ext4-whole', cls.volumes[DENIED], '/mnt/' + DENIED)
        cls.guest.write_file(CONF_PATH, cls._agent_conf())
        cls.agent_pid = cls.guest.spawn(
            ['python3', '-m', 'vsm_agent.cmd.agent', '--config-file',
             CONF_PATH, 'run'], log_path='/tmp/vsm-agent.log')
        cls.timings['setup_s'] = round(time.time() - t0, 1)

    @classmethod
    def tearDownClass(cls):
        if not getattr(cls, 'skip_reason', None) and hasattr(cls, 'guest'):
            try:
                cls.guest.kill(cls.agent_pid)
                cls.guest.wait_exit(cls.agent_pid, 30)
            except Exception:
                pass
            cls.fixture.cleanUp()
            cls.standin.stop()
        super().tearDownClass()

    @classmethod
    def _resize(cls, volume_id, size_gb):
        cls.guest.block_resize(cls.node_of[volume_id], size_gb * GiB)

    @classmethod
    def _agent_conf(cls):
        return ('[agent]\nstate_dir = /var/lib/vsm-agent\n'
                'answer_poll_s = 1\ndenied_poll_s = 10\n'
                '[discovery]\ninclude_mounts = /mnt/*\n'
                '[triggers]\nused_pct = 80\nsustained_samples = 2\n'
                '[sizing]\npolicy = fixed\nfixed_gb = 1\n'
                + cls.standin.agent_conf())

    def setUp(self):
        super().setUp()
        if self.skip_reason:
            self.skipTest(self.skip_reason)
        self.addDetail('guest-console', self.fixture.console_detail())
        self.addOnException(self._attach_agent_log)

    def _attach_agent_log(self, exc_info):
        try:
            text = self.guest.read_file('/tmp/vsm-agent.log').decode(
                'utf-8', 'replace')
        except Exception as exc:
            text = 'cannot read the agent log: %s' % exc
        self.addDetail('agent-log', content.text_content(text[-20000:]))
        self.addDetail('standin', content.text_content(json.dumps(
            {'metadata': self.standin.metadata,
             'errors': self.standin.errors}, indent=1)))

    def fill(self, mountpoint, pct):
        return float(self.guest.exec(['python3', '-c', FILL_SCRIPT,
                                      mountpoint, str(pct)]).stdout)

    def write_data(self, mountpoint):
        self.guest.sh('dd if=/dev/urandom of=%s/precious bs=1M count=16 '
                      '2>/dev/null && sync' % mountpoint)
        return self.checksum(mountpoint)

    def checksum(self, mountpoint):
        return self.guest.sh('sha256sum %s/precious' % mountpoint).split()[0]

    def agent_status(self):
        out = self.guest.exec(['python3', '-m', 'vsm_agent.cmd.agent',
                               '--config-file', CONF_PATH, 'status',
                               '--format', 'json']).stdout
        return {m['mountpoint']: m for m in json.loads(out)['mounts']}

    def _grow_scenario(self, name):
        volume_id = self.volumes[name]
        prepared = self.prepared[name]
        mnt = prepared.mountpoint
        checksum = self.write_data(mnt)
        before = self.guest.fs_size_bytes(mnt)
        t0 = time.time()
        used = self.fill(mnt, 86)
        self.assertGreaterEqual(used, 80.0)
        self.standin.wait_for(
            lambda: self.standin.request(volume_id) is not None,
            GROW_TIMEOUT, '%s: the request' % name)
        t_request = time.time() - t0
        self.standin.wait_for(lambda: self.standin.acked(volume_id),
                              GROW_TIMEOUT, '%s: the grown ack' % name)
        t_grown = time.time() - t0
        ack = self.standin.request(volume_id)
        self.assertEqual((2, 2), (ack.current_gb, ack.requested_gb))
        after = self.guest.fs_size_bytes(mnt)
        self.assertGreater(after, before + GiB // 2,
                           '%s did not grow: %d -> %d' % (name, before,
                                                          after))
        self.assertEqual(checksum, self.checksum(mnt))
        self.assertEqual([], self.standin.errors)
        # fsck after unmount, read-only; then mount again for the agent.
        check = self.guest.check_disk(prepared)
        self.addDetail('fsck', content.text_content(check.stdout +
                                                    check.stderr))
        self.guest.exec(['mount', prepared.fs_device, mnt])
        self.assertEqual(checksum, self.checksum(mnt))
        # One request was enough, and the unmount/mount for fsck did not
        # look like a burst of writing to the predictive trigger.
        time.sleep(5)
        self.assertEqual(1, self.standin.requests_written(volume_id))
        self.assertEqual(1, ack.seq)
        self.timings[name] = {'request_s': round(t_request, 1),
                              'grown_s': round(t_grown, 1)}
        self.addDetail('timings', content.text_content(
            json.dumps(self.timings)))

    def test_ext4_on_gpt_partition(self):
        self._grow_scenario('ext4-part')

    def test_xfs_on_gpt_partition(self):
        self._grow_scenario('xfs-part')

    def test_ext4_on_unpartitioned_disk(self):
        self._grow_scenario('ext4-whole')

    def test_xfs_on_lvm(self):
        self._grow_scenario('xfs-lvm')

    def test_btrfs(self):
        self._grow_scenario('btrfs-whole')

    def test_denied_stops_asking_and_alerts(self):
        volume_id = self.volumes[DENIED]
        mnt = '/mnt/' + DENIED
        self.fill(mnt, 86)
        self.standin.wait_for(
            lambda: self.standin.response(volume_id) is not None,
            GROW_TIMEOUT, 'the denial')
        deadline = time.time() + 60
        while time.time() < deadline:
            status = self.agent_status()[mnt]
            if status['phase'] == 'denied':
                break
            time.sleep(1)
        self.assertEqual('denied', status['phase'])
        self.assertIn('st=denied', status['answer'])
        motd = self.guest.read_file('/run/motd.d/90-vsm-agent').decode()
        self.assertIn('DENIED (over_limit)', motd)
        self.assertIn(mnt, motd)
        time.sleep(10)
        self.assertEqual(1, self.standin.requests_written(volume_id))
        table = self.guest.exec(['python3', '-m', 'vsm_agent.cmd.agent',
                                 '--config-file', CONF_PATH,
                                 'status']).stdout
        self.addDetail('status', content.text_content(table))
        self.assertIn('denied', table)
