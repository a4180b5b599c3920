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

"""The real daemon on the host: XFS on a loop device grows online.

The host kernel can grow XFS online on a loop device (ext4 online resize
and partitions on loop devices do not work in this sandbox; those run in
the QEMU guest, test_guest_grow.py). The daemon runs as a subprocess with
the real CLI, the real discovery against the host's /proc and /sys (the
loop device is mapped with ``[discovery] static_volumes``, loop devices
have no serial), the real keystoneauth1 channel against the HTTP stand-in
(standin.py), which grants and "extends" the volume by growing the
backing file and ``losetup -c``.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import testtools
from testtools import content

from vsm_agent import protocol
from vsm_tests.functional.agent import standin as standin_mod

GIB = 1024 ** 3
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def _missing_tools():
    missing = [t for t in ('mkfs.xfs', 'losetup', 'xfs_growfs', 'mount',
                           'xfs_repair') if not shutil.which(t)]
    if os.geteuid() != 0:
        missing.append('root')
    return missing


def sh(*argv):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT).stdout.decode()


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


class LoopXfs:
    """A 1 GiB sparse file, a loop device and XFS on it, mounted."""

    def __init__(self, workdir, size=GIB):
        self.image = os.path.join(workdir, 'disk.img')
        self.mnt = os.path.join(workdir, 'mnt')
        os.makedirs(self.mnt)
        with open(self.image, 'wb') as f:
            f.truncate(size)
        self.dev = sh('losetup', '-f', '--show', self.image).strip()
        sh('mkfs.xfs', '-q', self.dev)
        sh('mount', self.dev, self.mnt)

    @property
    def name(self):
        return os.path.basename(self.dev)

    def resize(self, volume_id, size_gb):
        # What Cinder extend + Nova's blockResize do to a real disk.
        with open(self.image, 'r+b') as f:
            f.truncate(size_gb * GIB)
        sh('losetup', '-c', self.dev)

    def fill_to(self, used_pct):
        st = os.statvfs(self.mnt)
        size = st.f_blocks * st.f_frsize
        used = (st.f_blocks - st.f_bfree) * st.f_frsize
        want = int(size * used_pct / 100) - used
        path = os.path.join(self.mnt, 'ballast-%d' % time.time_ns())
        # fallocate: space counts as used without writing 1 GiB of data.
        fd = os.open(path, os.O_CREAT | os.O_WRONLY)
        try:
            os.posix_fallocate(fd, 0, max(want, 4096))
        finally:
            os.close(fd)

    def size_bytes(self):
        st = os.statvfs(self.mnt)
        return st.f_blocks * st.f_frsize

    def cleanup(self):
        subprocess.run(['umount', self.mnt], check=False)
        subprocess.run(['losetup', '-d', self.dev], check=False)


class TestHostXfsLoop(testtools.TestCase):

    def setUp(self):
        super().setUp()
        missing = _missing_tools()
        if missing:
            self.skipTest('needs %s (apt-get install xfsprogs util-linux; '
                          'run as root)' % ', '.join(missing))
        self.work = tempfile.mkdtemp(prefix='vsm-agent-func-')
        self.addCleanup(shutil.rmtree, self.work, True)
        self.disk = LoopXfs(self.work)
        self.addCleanup(self.disk.cleanup)
        self.volume_id = str(uuid.uuid4())
        self.standin = standin_mod.StandIn(
            str(uuid.uuid4()), volumes=[self.volume_id],
            resize=self.disk.resize).start()
        self.addCleanup(self.standin.stop)
        with open(os.path.join(self.disk.mnt, 'precious'), 'wb') as f:
            f.write(os.urandom(8 << 20))
        self.checksum = sha256(os.path.join(self.disk.mnt, 'precious'))
        self.conf = os.path.join(self.work, 'vsm-agent.conf')
        self.write_conf()

    def write_conf(self):
        with open(self.conf, 'w') as f:
            f.write('[DEFAULT]\ndebug = true\n'
                    '[agent]\nstate_dir = %(w)s/state\ninterval_s = 0.5\n'
                    'min_interval_s = 0.2\nanswer_poll_s = 0.5\n'
                    'denied_poll_s = 2\n'
                    '[discovery]\ninclude_mounts = %(mnt)s\n'
                    'static_volumes = %(dev)s=%(vol)s\n'
                    '[triggers]\nused_pct = 80\nsustained_samples = 2\n'
                    '[sizing]\npolicy = fixed\nfixed_gb = 1\n'
                    '[alerts]\nstatus_file = %(w)s/run/status.json\n'
                    'motd_dir = %(w)s/motd.d\n'
                    % {'w': self.work, 'mnt': self.disk.mnt,
                       'dev': self.disk.dev, 'vol': self.volume_id})
            f.write(self.standin.agent_conf())

    def start_agent(self):
        env = dict(os.environ, PYTHONPATH=REPO)
        log = open(os.path.join(self.work, 'agent.log'), 'ab')
        self.addCleanup(log.close)
        if not getattr(self, '_log_detail', False):
            self._log_detail = True
            self.addOnException(lambda exc_info: self.addDetail(
                'agent-log', content.text_content(self.agent_log())))
        proc = subprocess.Popen(
            [sys.executable, '-m', 'vsm_agent.cmd.agent', '--config-file',
             self.conf, 'run'], env=env, stdout=log, stderr=log)
        self.addCleanup(self._stop, proc)
        return proc

    def _stop(self, proc):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()

    def agent_log(self):
        with open(os.path.join(self.work, 'agent.log')) as f:
            return f.read()

    def status(self):
        out = subprocess.run(
            [sys.executable, '-m', 'vsm_agent.cmd.agent', '--config-file',
             self.conf, 'status', '--format', 'json'],
            env=dict(os.environ, PYTHONPATH=REPO), check=True,
            stdout=subprocess.PIPE).stdout
        return json.loads(out)

    def test_xfs_grows_online_and_acknowledges(self):
        proc = self.start_agent()
        before = self.disk.size_bytes()
        time.sleep(2)
        self.assertEqual([], self.standin.agent_writes)  # idle: no writes
        t0 = time.time()
        self.disk.fill_to(85)
        self.standin.wait_for(lambda: self.standin.acked(self.volume_id), 60,
                              'the grown acknowledgement')
        elapsed = time.time() - t0
        req = self.standin.request(self.volume_id)
        self.assertEqual((2, 2), (req.current_gb, req.requested_gb))
        self.assertGreater(self.disk.size_bytes(), before + GIB // 2)
        self.assertEqual(self.checksum,
                         sha256(os.path.join(self.disk.mnt, 'precious')))
        self.assertEqual([], self.standin.errors)
        status = self.status()
        (mount,) = status['mounts']
        # acknowledged until a metadata read shows the ack, then idle
        self.assertIn(mount['phase'], ('acknowledged', 'idle'))
        self.assertIn('st=grown', mount['request'])
        # The agent grows on the capacity change alone, so it may have
        # acknowledged before it read any answer; one it read is ours.
        if mount['answer'] is not None:
            self.assertRegex(mount['answer'], 'st=(granted|extended)')
        self._stop(proc)
        self.assertEqual(0, proc.returncode, self.agent_log())
        self.assertIn('vsm-agent stopped', self.agent_log())
        sh('umount', self.disk.mnt)
        sh('xfs_repair', '-n', self.disk.dev)
        sh('mount', self.disk.dev, self.disk.mnt)
        self.addDetail('grow_seconds', content.text_content(
            '%.2f' % elapsed))

    def test_denial_stops_asking_across_restart(self):
        self.standin.mode = 'deny'
        proc = self.start_agent()
        self.disk.fill_to(85)
        self.standin.wait_for(
            lambda: (self.standin.response(self.volume_id) is not None),
            30, 'a denial')
        deadline = time.time() + 20
        while time.time() < deadline:
            status = self.status()
            if status['mounts'][0]['phase'] == 'denied':
                break
            time.sleep(0.5)
        self.assertEqual('denied', status['mounts'][0]['phase'])
        with open(os.path.join(self.work, 'motd.d', '90-vsm-agent')) as f:
            self.assertIn('DENIED (over_limit)', f.read())
        self._stop(proc)
        proc = self.start_agent()
        time.sleep(5)
        self.assertEqual(1, self.standin.requests_written(self.volume_id))
        self.assertIn('WARNING', self.agent_log())
        self.assertEqual(
            protocol.ResponseState.DENIED,
            self.standin.response(self.volume_id).state)

    def test_check_then_sighup_reload_applies_new_thresholds(self):
        with open(self.conf, 'a') as f:
            f.write('[triggers]\nused_pct = 95\nemergency_used_pct = 0\n'
                    'lead_time_s = 0\n')
        self.disk.fill_to(85)
        out = subprocess.run(
            [sys.executable, '-m', 'vsm_agent.cmd.agent', '--config-file',
             self.conf, 'check', '--format', 'json'],
            env=dict(os.environ, PYTHONPATH=REPO), check=True,
            stdout=subprocess.PIPE).stdout
        (report,) = json.loads(out)
        self.assertIsNone(report['would_request_gb'])
        self.assertIn('no trigger breached', ' '.join(report['explain']))
        proc = self.start_agent()
        time.sleep(3)
        self.assertEqual([], self.standin.agent_writes)
        # Lower the threshold and reload: the agent asks without restarting.
        self.write_conf()
        proc.send_signal(signal.SIGHUP)
        self.standin.wait_for(lambda: self.standin.acked(self.volume_id), 60,
                              'the grown acknowledgement after SIGHUP')
        self.assertIsNone(proc.poll())
        self.assertIn('Reloading configuration', self.agent_log())
