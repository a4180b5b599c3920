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

"""Agent benchmarks: detection latency and idle footprint, printed.

``python -m benchmarks.agent_bench [--trials 20] [--duration 60]``

1. **Detection latency** (budget: p95 <= 2 s): threshold crossed -> request
   written. An XFS filesystem on a loop device, the real discovery, monitor
   and trigger code in an :class:`~vsm_agent.service.Agent` running its
   real loop in a thread with the default configuration; the channel is a
   fake that sleeps the default write jitter and records when the write
   lands. Two fill patterns:

   * *ramp*: the disk fills steadily (16 MiB every 0.25 s, 64 MB/s) from
     60 % through the 80 % threshold, the usual way a disk fills;
   * *step*: one allocation jumps from 50 % to 85 % (the worst case: the
     mount is sampled at the slow, far-from-threshold interval).

   Latency is measured from the return of the allocation that crossed the
   threshold to the recorded write. The predictive trigger is switched off
   here: it fires before the threshold is crossed, i.e. earlier.

2. **Footprint** (budget: RSS <= 30 MB, CPU <= 0.2 % of a core): the real
   daemon (``vsm-agent run``) as a subprocess with 10 XFS loop mounts, all
   mapped to volumes, default interval, idle (below thresholds), for
   ``--duration`` seconds after a 10 s warm-up; RSS and CPU from /proc.
   Also reported: the RSS if keystoneauth1 were loaded in-process
   (``[nova] isolate_api_calls = false``); by default API calls run in a
   short-lived child (vsm_agent.apicall) and the daemon never loads it.

Needs root, losetup and mkfs.xfs; cleans up its loop devices.
"""

import argparse
import contextlib
import http.server
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from vsm_tests import httpjson

GIB = 1024 ** 3
MIB = 1024 ** 2
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(*argv):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT).stdout.decode().strip()


@contextlib.contextmanager
def loop_xfs(workdir, count, size=GIB):
    """``count`` XFS loop mounts: [(device, mountpoint)]."""
    made = []
    try:
        for i in range(count):
            image = os.path.join(workdir, 'disk%d.img' % i)
            with open(image, 'wb') as f:
                f.truncate(size)
            dev = sh('losetup', '-f', '--show', image)
            mnt = os.path.join(workdir, 'mnt%d' % i)
            os.makedirs(mnt)
            made.append((dev, mnt))
            sh('mkfs.xfs', '-q', dev)
            sh('mount', dev, mnt)
        yield made
    finally:
        for dev, mnt in made:
            subprocess.run(['umount', mnt], check=False)
            subprocess.run(['losetup', '-d', dev], check=False)


def used_pct(mnt):
    st = os.statvfs(mnt)
    used = st.f_blocks - st.f_bfree
    return 100.0 * used / (used + st.f_bavail)


def allocate(mnt, nbytes, name):
    fd = os.open(os.path.join(mnt, name), os.O_CREAT | os.O_WRONLY)
    try:
        os.posix_fallocate(fd, 0, nbytes)
    finally:
        os.close(fd)


def pct_bytes(mnt, pct):
    st = os.statvfs(mnt)
    size = st.f_blocks * st.f_frsize
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    return max(int(size * pct / 100) - used, 4096)


class RecordingChannel:
    """A Nova channel that records when writes land (with real jitter)."""

    def __init__(self, jitter_s):
        self.jitter_s = jitter_s
        self.write_times = []
        self.document = {}
        self._server_id = str(uuid.uuid4())
        self.last_read_source = 'metadata'
        self.can_write = True
        self.event = threading.Event()

    server_id = property(lambda self: self._server_id)

    def fetch_document(self):
        return self.document

    def read_metadata(self):
        return {}

    def device_volume_ids(self):
        return set()

    def attached_volume_ids(self):
        return set()

    def write(self, key, value):
        time.sleep(random.uniform(0, self.jitter_s))
        self.write_times.append(time.monotonic())
        self.event.set()


def detection_trial(dev, mnt, pattern, state_dir):
    from vsm_agent.cmd import agent as cmd_agent
    from vsm_agent import service
    for name in os.listdir(mnt):
        os.unlink(os.path.join(mnt, name))
    volume_id = str(uuid.uuid4())
    conf = cmd_agent.make_conf(['run'])
    conf.set_override('state_dir', state_dir, 'agent')
    conf.set_override('static_volumes', ['%s=%s' % (dev, volume_id)],
                      'discovery')
    conf.set_override('include_mounts', [mnt], 'discovery')
    conf.set_override('status_file', os.path.join(state_dir, 'status.json'),
                      'alerts')
    conf.set_override('motd_dir', '', 'alerts')
    # The predictive trigger would fire before the threshold is crossed
    # (earlier, not later): measure the threshold path.
    conf.set_override('lead_time_s', 0, 'triggers')
    channel = RecordingChannel(conf.nova.write_jitter_s)
    agent = service.Agent(conf, nova=channel)
    thread = threading.Thread(target=agent.run, daemon=True)
    start = 50 if pattern == 'step' else 60
    allocate(mnt, pct_bytes(mnt, start), 'base')
    thread.start()
    # Let the agent settle into its steady rhythm, at a random phase.
    time.sleep(3 + random.uniform(0, conf.agent.interval_s))
    crossed = None
    if pattern == 'step':
        allocate(mnt, pct_bytes(mnt, 85), 'step')
        crossed = time.monotonic()
    else:
        i = 0
        while used_pct(mnt) < 86 and not channel.event.is_set():
            allocate(mnt, 16 * MIB, 'ramp%d' % i)
            i += 1
            if crossed is None and used_pct(mnt) >= 80:
                crossed = time.monotonic()
            time.sleep(0.25)
    channel.event.wait(30)
    agent.request_stop()
    thread.join(10)
    if not channel.write_times or crossed is None:
        return None
    return channel.write_times[0] - crossed


def bench_detection(trials):
    results = {}
    work = tempfile.mkdtemp(prefix='vsm-bench-')
    try:
        with loop_xfs(work, 1) as mounts:
            dev, mnt = mounts[0]
            for pattern in ('ramp', 'step'):
                lat = []
                for i in range(trials):
                    state_dir = tempfile.mkdtemp(dir=work)
                    value = detection_trial(dev, mnt, pattern, state_dir)
                    if value is not None:
                        lat.append(value)
                results[pattern] = lat
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for pattern, lat in results.items():
        if not lat:
            print('detection %-4s: no request was written' % pattern)
            continue
        lat.sort()
        p95 = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))]
        print('detection %-4s: n=%d  p50 %.2f s  p95 %.2f s  max %.2f s  '
              '(budget p95 <= 2 s)' % (pattern, len(lat),
                                       statistics.median(lat), p95, lat[-1]))
    return results


class _Metadata(httpjson.JsonHandler):
    def do_GET(self):
        self.send_json(200, {'uuid': str(uuid.UUID(int=1)), 'meta': {}})


def _proc_cpu_rss(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    with open('/proc/%d/status' % pid) as f:
        rss = next(int(line.split()[1]) for line in f
                   if line.startswith('VmRSS'))
    return cpu, rss / 1024.0


def bench_footprint(duration, mounts_count=10):
    work = tempfile.mkdtemp(prefix='vsm-bench-')
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Metadata)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with loop_xfs(work, mounts_count, size=512 * MIB) as mounts:
            conf_path = os.path.join(work, 'agent.conf')
            static = ','.join('%s=%s' % (dev, uuid.uuid4())
                              for dev, _ in mounts)
            with open(conf_path, 'w') as f:
                f.write('[agent]\nstate_dir = %s/state\n'
                        '[discovery]\nstatic_volumes = %s\n'
                        'include_mounts = %s/mnt*\n'
                        '[alerts]\nstatus_file = %s/status.json\n'
                        'motd_dir =\n'
                        '[nova]\nmetadata_url = http://127.0.0.1:%d/m\n'
                        % (work, static, work, work,
                           server.server_address[1]))
            proc = subprocess.Popen(
                [sys.executable, '-m', 'vsm_agent.cmd.agent',
                 '--config-file', conf_path, 'run'],
                env=dict(os.environ, PYTHONPATH=REPO),
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                time.sleep(10)
                cpu0, _ = _proc_cpu_rss(proc.pid)
                t0 = time.monotonic()
                time.sleep(duration)
                cpu1, rss = _proc_cpu_rss(proc.pid)
                elapsed = time.monotonic() - t0
                with open(os.path.join(work, 'status.json')) as f:
                    sampled = len(json.load(f)['mounts'])
            finally:
                proc.terminate()
                proc.wait(10)
    finally:
        server.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    cpu_pct = 100.0 * (cpu1 - cpu0) / elapsed
    print('footprint: %d mounts (%d monitored), %.0f s: RSS %.1f MB, CPU '
          '%.3f %% of a core  (budget RSS <= 30 MB, CPU <= 0.2 %%)'
          % (mounts_count, sampled, elapsed, rss, cpu_pct))
    # The same interpreter after the first write has loaded keystoneauth1.
    out = subprocess.run(
        [sys.executable, '-c',
         'import resource, vsm_agent.cmd.agent, vsm_agent.service;'
         'import keystoneauth1.session, keystoneauth1.identity.v3, '
         'keystoneauth1.adapter;'
         'print(open("/proc/self/status").read().split("VmRSS:")[1]'
         '.split()[0])'], env=dict(os.environ, PYTHONPATH=REPO),
        stdout=subprocess.PIPE, check=True).stdout
    print('footprint: RSS with keystoneauth1 loaded in-process '
          '([nova] isolate_api_calls = false, after the first write): '
          '%.1f MB; the default runs API calls in a child and stays '
          'as above' % (int(out) / 1024.0))
    return rss, cpu_pct


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--trials', type=int, default=20)
    parser.add_argument('--duration', type=float, default=60.0)
    parser.add_argument('--only', choices=('detection', 'footprint'))
    args = parser.parse_args(argv)
    missing = [t for t in ('losetup', 'mkfs.xfs') if not shutil.which(t)]
    if os.geteuid() != 0 or missing:
        print('agent benchmarks skipped: need root and %s'
              % (', '.join(missing) or 'nothing else'))
        return 0
    if args.only in (None, 'detection'):
        bench_detection(args.trials)
    if args.only in (None, 'footprint'):
        bench_footprint(args.duration)
    return 0


if __name__ == '__main__':
    sys.exit(main())
