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

"""``python -m vsm_devenv.demo [--keep] [--out demo-out]`` (``tox -e demo``).

The README demo: a virtual machine's disk fills up and grows by itself.

1. brings up the local OpenStack cloud (``vsm_devenv.localcloud up
   --nova-driver qmp``; it installs its apt/pip dependencies) unless one
   with the QMP driver already runs, and builds/boots the QEMU guest;
2. wires the closed loop (:class:`vsm_devenv.closedloop.ClosedLoop`): a
   server with a 1 GiB data volume, the VSM agent inside the guest, the
   VSM authorization service next to the cloud;
3. fills the disk in the guest and shows, live, in plain words, what
   happens: the space used, the guest asking for more, VSM deciding,
   Cinder growing the volume, the guest's disk and filesystem growing;
4. fills it again, then lowers the project's storage limit so the next
   request is denied and the agent stops asking;
5. writes ``<out>/expansion.svg`` (and ``expansion.png`` if rsvg-convert
   is there), ``<out>/timeline.json`` and ``<out>/summary.txt``, prints
   what happened and tears everything down (the local cloud too, if the
   demo started it, unless ``--keep``).
"""

import argparse
import logging
import os
import shutil
import subprocess
import sys
import time

from vsm_devenv.demo import chart
from vsm_devenv.demo import observer as observer_mod
from vsm_devenv.demo import view as view_mod
from vsm_devenv.localcloud import info as info_mod
from vsm_devenv.localcloud import layout as layout_mod

GiB = 1 << 30


def _say(text=''):
    print(text, flush=True)


def _localcloud(*args, **kw):
    return subprocess.run([sys.executable, '-m', 'vsm_devenv.localcloud']
                          + list(args), **kw).returncode


def _cloud_state():
    """'qmp' if a local cloud with the QMP driver is up, 'other', or None."""
    info = info_mod.load(layout_mod.Layout())
    if not info or _localcloud('status', capture_output=True):
        return None
    return 'qmp' if info.get('nova_driver') == 'qmp' else 'other'


def bring_up_cloud(log_path):
    """The local cloud with the QMP driver; True if the demo started it.

    A running cloud is reused (nova-compute switched to the QMP driver if
    needed); else a fresh one is brought up with it.
    """
    state = _cloud_state()
    if state == 'qmp':
        _say('A local OpenStack cloud is already running: using it.')
        return False
    if state == 'other':
        _say('A local OpenStack cloud is running: switching its compute '
             'service to the test hypervisor link.')
    else:
        _say('Starting a local OpenStack cloud (Keystone, Nova, Cinder, '
             'Neutron, Placement, RabbitMQ, MariaDB) on 127.0.0.1; the '
             'first run installs packages (a few minutes)...')
    with open(log_path, 'ab') as log:
        if _localcloud('up', '--reuse', '--nova-driver', 'qmp',
                       stdout=log, stderr=subprocess.STDOUT):
            raise RuntimeError('vsm_devenv.localcloud up failed; see %s'
                               % log_path)
    _say('Local cloud up.')
    return state is None


def ensure_rsvg():
    if shutil.which('rsvg-convert'):
        return True
    subprocess.run(
        ['apt-get', 'install', '-y', '-q', 'librsvg2-bin'],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return bool(shutil.which('rsvg-convert'))


class Demo:
    """The demo's script, on a ready ClosedLoop."""

    def __init__(self, loop, view, size_gb):
        self.loop = loop
        self.view = view
        self.size_gb = size_gb
        self.observer = None
        self._last = None

    def sample(self, sample):
        """Show a sample when something moved (2 points, a size) or 5 s."""
        ratio = sample.used_bytes / sample.fs_bytes if sample.fs_bytes else 0
        key = (sample.fs_bytes, sample.volume_gb)
        last = self._last
        if (last is None or key != last[1] or abs(ratio - last[2]) >= 0.02
                or sample.t - last[0] >= 5):
            self._last = (sample.t, key, ratio)
            self.view.sample(sample)

    def note(self, text):
        ev = self.observer.timeline.event('note', text)
        self.view.event(ev)

    def wait_grown(self, after_seq, timeout=240):
        return self.loop.wait_for_request_state(
            'data', 'grown', timeout=timeout, after_seq=after_seq
        )

    def fill_to(self, fraction, rate_mb):
        used, fs, _ = self.loop.statvfs('data')
        mb = max(16, int((fraction * fs - used) / (1 << 20)))
        writer = self.loop.start_writer(
            'data', rate_mb=rate_mb, total_mb=mb, chunk_mb=16
        )
        return writer

    def run(self):
        loop = self.loop
        self.observer = observer_mod.Observer(
            loop, on_sample=self.sample, on_event=self.view.event,
            interval=1.0)
        self.observer.start()
        loop.addCleanup(self.observer.stop)
        time.sleep(3)
        self.note('An application in the VM starts writing to /data (1 GiB).')
        seq = 0
        writer = self.fill_to(0.86, rate_mb=40)
        ack = self.wait_grown(seq)
        writer.wait(timeout=300)
        seq = ack.seq
        self.note(
            'The disk grew while the application kept writing. '
            'It writes more...'
        )
        writer = self.fill_to(0.86, rate_mb=60)
        ack = self.wait_grown(seq)
        writer.wait(timeout=300)
        seq = ack.seq
        total = loop.cloud.project_usage_gb(loop.cloud.project_id('demo'))
        self.note(
            "The cloud admin caps the project's storage at %d GiB "
            "(what it uses now)."
            % total
        )
        loop.set_limit(total)
        writer = self.fill_to(0.88, rate_mb=100)
        loop.wait_for_response_state(
            'data', 'denied', timeout=240, after_seq=seq
        )
        writer.wait(timeout=300)
        time.sleep(12)
        self.note(
            'The VM was told no: its agent stops asking and warns the '
            'VM users.'
        )
        time.sleep(4)
        self.observer.stop()
        motd = ''
        try:
            motd = loop.guest.read_file('/run/motd.d/90-vsm-agent').decode(
                errors='replace'
            )
        except Exception:
            pass
        return motd


def summary(timeline, loop, motd):
    """Plain-words account of what happened, from the timeline."""
    lines = ['What happened', '=============']
    requests = [e for e in timeline.events if e.kind == 'request']
    grants = [e for e in timeline.events if e.kind == 'granted']
    denials = [e for e in timeline.events if e.kind == 'denied']
    grown = [e for e in timeline.events if e.kind == 'grown']
    first = timeline.samples[0] if timeline.samples else None
    last = timeline.samples[-1] if timeline.samples else None
    if first and last:
        lines.append(
            'The data disk started at %d GiB and ended at %d GiB; the '
            'application '
            'wrote %.1f GiB in %.0f seconds.'
            % (
                first.volume_gb,
                last.volume_gb,
                (last.used_bytes - first.used_bytes) / GiB,
                last.t,
            )
        )
    lines.append(
        'The VM asked for more space %d time(s); VSM granted %d and '
        'denied %d; '
        'the disk was grown inside the running VM %d time(s), with no restart '
        'and no data lost.'
        % (len(requests), len(grants), len(denials), len(grown))
    )
    for req in requests:
        nxt = timeline.first('grown', req.t)
        if nxt is not None:
            lines.append(
                '  request at %5.1fs -> filesystem grown at %5.1fs '
                '(%.1f s): %s'
                % (req.t, nxt.t, nxt.t - req.t, req.text)
            )
    if denials:
        lines.append(
            'The last request was over the project\'s limit: VSM said no, the '
            'agent stopped asking and left this message for the VM\'s users:'
        )
        lines += ['  | ' + line for line in motd.strip().splitlines()[:6]]
    return '\n'.join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(
        prog='python -m vsm_devenv.demo', description=__doc__.split('\n')[0]
    )
    p.add_argument(
        '--keep',
        action='store_true',
        help='leave the local cloud running afterwards',
    )
    p.add_argument(
        '--out', default='demo-out', help='output directory (default demo-out)'
    )
    p.add_argument(
        '--size-gb', type=int, default=1, help='initial data volume size'
    )
    p.add_argument(
        '--layout',
        default='ext4-part',
        help='guest storage layout (ext4-part, xfs-part, xfs-lvm, ...)',
    )
    a = p.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    logging.basicConfig(
        filename=os.path.join(a.out, 'demo.log'),
        level=logging.INFO,
        format='%(asctime)s %(levelname)s %(name)s: %(message)s',
    )
    view = view_mod.LiveView(sys.stdout)
    started = bring_up_cloud(os.path.join(a.out, 'localcloud.log'))
    from vsm_devenv import closedloop
    from vsm_devenv.guest import build

    _say('Preparing the test VM image (QEMU, a real Linux kernel)...')
    build.ensure_image()
    rsvg = ensure_rsvg()
    loop = closedloop.ClosedLoop(
        volumes=[closedloop.VolumeSpec('data', a.size_gb, a.layout, '/data')],
        limit_gb=1000,
        listener=True,
        agent=False,
        name='vsm-demo',
        # Ask at 80 % or when full within 30 s (the default lead time, 300 s,
        # would ask as soon as the demo starts writing).
        agent_options={'triggers': {'used_pct': '80', 'lead_time_s': '30',
                                    'sustained_samples': '1'}},
        # The runaway-growth cap (10x a day) would stop the third request
        # before the project's limit does: the demo is about the limit.
        listener_options={'expansion_policy': {'runaway_factor': '0'}},
    )
    timeline = None
    try:
        _say(
            'Creating a VM with a %d GiB data disk, the VSM agent inside it '
            'and the VSM '
            'service next to the cloud...' % a.size_gb
        )
        loop.setUp()
        loop.start_agent()
        view.header(
            'VM %s: /data on a %d GiB Cinder volume (%s)'
            % (loop.server_id[:8], a.size_gb, a.layout)
        )
        demo = Demo(loop, view, a.size_gb)
        motd = demo.run()
        timeline = demo.observer.timeline
        text = summary(timeline, loop, motd)
        _say()
        _say(text)
    finally:
        if timeline is not None:
            try:
                timeline.save(os.path.join(a.out, 'timeline.json'))
                svg = chart.write_svg(
                    timeline,
                    os.path.join(a.out, 'expansion.svg'),
                    title='A VM disk that grows by itself (VSM)',
                )
                if rsvg:
                    subprocess.run(['rsvg-convert', '-o',
                                    os.path.join(a.out, 'expansion.png'), svg])
                with open(os.path.join(a.out, 'summary.txt'), 'w') as f:
                    f.write(text + '\n')
            except Exception as e:
                _say('could not write the chart: %s' % e)
        _say('Cleaning up the VM, volumes and services...')
        loop.cleanUp()
        if started and not a.keep:
            _localcloud('down', stdout=subprocess.DEVNULL)
            _say('Local cloud stopped.')
    _say('Chart: %s' % os.path.join(a.out, 'expansion.svg'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
