"""One DevStack run, phase by phase, timed and measured.

:class:`DevStackRun` builds a container from the cached Debian base, fills
it with the snapshot repositories and the VSM checkout, boots it, gives it a
network, runs DevStack's ``stack.sh`` with VSM's plugin enabled, lets a
caller act on the cloud, runs ``unstack.sh`` and removes everything::

    from vsm_devenv.devstack import run

    ds = run.DevStackRun()
    try:
        ds.up()                                   # host .. stack
        ds.openstack('server', 'list')            # as demo, parsed JSON
        ds.unstack()
    finally:
        ds.down()                                 # stop, remove the tree
    print(ds.report())

Phases and what they leave behind:

``host``     apt-get install debootstrap, systemd-container, slirp4netns
             (only the missing ones)
``rootfs``   the debootstrapped base, made once in ``<work>/cache``, copied
             to ``<work>/run-<stamp>/root`` and configured
             (:mod:`~vsm_devenv.devstack.rootfs`)
``repos``    one-commit bare repositories of the snapshots and the checkout
``boot``     ``systemd-nspawn --boot`` (:mod:`~vsm_devenv.devstack.container`)
``net``      slirp4netns; the host's routes are compared before and after
``stack``    ``stack.sh`` as ``stack`` with :mod:`~vsm_devenv.devstack.localconf`
``unstack``  ``unstack.sh``
``stop``     slirp4netns and systemd-nspawn stopped by PID, routes checked
``remove``   the run's container tree deleted (logs are kept)

``<work>`` is ``$VSM_DEVSTACK_WORK`` (default ``/var/tmp/vsm-devstack``). The
cache also keeps apt's downloads and the wheels pip builds between runs
(bind mounts); pip's HTTP cache stays empty behind the registries' proxy.
The first run of a machine is the one to time.
Logs of each run stay in ``<work>/logs/<stamp>/``: ``stack.out``,
``unstack.out``, the journal of VSM's units, ``timings.txt``.

Memory: a thread samples every few seconds the host's used memory (total
minus available, shared with whatever else runs) and the proportional set
size of every process in the container's PID namespace; :meth:`report`
prints the peaks. Needs root. Stale run trees of earlier runs whose
container is gone are removed at the start.
"""

import collections
import contextlib
import json
import logging
import os
import pathlib
import shutil
import threading
import time

from vsm_devenv.devstack import container
from vsm_devenv.devstack import localconf
from vsm_devenv.devstack import rootfs
from vsm_devenv.devstack import snapshots

LOG = logging.getLogger(__name__)

WORK_ENV_VAR = 'VSM_DEVSTACK_WORK'
DEFAULT_WORK = '/var/tmp/vsm-devstack'
STACK_TIMEOUT = 45 * 60
OPENSTACK = '/opt/stack/data/venv/bin/openstack'


class StackFailed(Exception):
    """stack.sh or unstack.sh failed; the message names its log."""


class MemorySampler(threading.Thread):
    """Peak host used memory and peak PSS of the container's processes."""

    def __init__(self, interval=5.0):
        super().__init__(daemon=True, name='devstack-memory')
        self.interval = interval
        self.init_pid = None
        self.host_baseline_mib = self._host_used_mib()
        self.host_peak_mib = self.host_baseline_mib
        self.container_peak_mib = 0
        self._stop_event = threading.Event()

    @staticmethod
    def _host_used_mib():
        info = {}
        with open('/proc/meminfo') as f:
            for line in f:
                key, value = line.split(':', 1)
                info[key] = int(value.split()[0])
        return (info['MemTotal'] - info['MemAvailable']) // 1024

    def _container_pss_mib(self):
        if self.init_pid is None:
            return 0
        try:
            pid_ns = os.readlink('/proc/%d/ns/pid' % self.init_pid)
        except OSError:
            return 0
        total_kib = 0
        for entry in os.scandir('/proc'):
            if not entry.name.isdigit():
                continue
            try:
                if os.readlink('/proc/%s/ns/pid' % entry.name) != pid_ns:
                    continue
                with open('/proc/%s/smaps_rollup' % entry.name) as f:
                    for line in f:
                        if line.startswith('Pss:'):
                            total_kib += int(line.split()[1])
                            break
            except OSError:  # the process ended meanwhile
                continue
        return total_kib // 1024

    def run(self):
        while not self._stop_event.wait(self.interval):
            self.host_peak_mib = max(self.host_peak_mib,
                                     self._host_used_mib())
            self.container_peak_mib = max(self.container_peak_mib,
                                          self._container_pss_mib())

    def stop(self):
        self._stop_event.set()


class DevStackRun:
    """One container, one stack.sh (see the module doc)."""

    def __init__(self, checkout=snapshots.REPO_ROOT, src=None, work=None):
        self.checkout = pathlib.Path(checkout)
        self.src = src or snapshots.source_dir()
        self.work = pathlib.Path(work or os.environ.get(WORK_ENV_VAR)
                                 or DEFAULT_WORK)
        stamp = time.strftime('%Y%m%d-%H%M%S')
        self.cache = self.work / 'cache'
        self.run_dir = self.work / ('run-' + stamp)
        self.root = self.run_dir / 'root'
        self.logs = self.work / 'logs' / stamp
        self.timings = collections.OrderedDict()
        self.memory = MemorySampler()
        self.box = None
        self.stacked = False
        self.routes_verdict = None

    # ------------------------------------------------------------ phases --

    @contextlib.contextmanager
    def phase(self, name):
        """Time a phase; the time is recorded even if it fails."""
        LOG.info('phase %s', name)
        start = time.monotonic()
        try:
            yield
        finally:
            self.timings[name] = time.monotonic() - start
            LOG.info('phase %s: %.0f s', name, self.timings[name])
            self._write_timings()

    def up(self):
        """Every phase up to a running stack (host .. stack)."""
        reason = snapshots.unavailable(self.src)
        if reason:
            raise FileNotFoundError(reason)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.memory.start()
        self._remove_stale_runs()
        with self.phase('host'):
            rootfs.ensure_host_packages(self.logs / 'host.log')
        with self.phase('rootfs'):
            base = rootfs.cached_base(self.cache, self.logs / 'rootfs.log')
            rootfs.make_tree(base, self.root)
            rootfs.configure(self.root, 'devstack', container.HOST_IP,
                             container.DNS_IP, self.logs / 'rootfs.log')
            binds = self._cache_binds()
        with self.phase('repos'):
            rootfs.make_repos(self.root, self.src, self.checkout,
                              self.run_dir)
        with self.phase('boot'):
            self.box = container.Container(self.root, self.logs,
                                           binds=binds)
            self._write_pids()
            self.box.boot()
            self._write_pids()
            self.memory.init_pid = self.box.init_pid
        with self.phase('net'):
            self.box.start_network()
            self._write_pids()
            self.box.run(['apt-get', '-q', 'update'],
                         output=self.logs / 'apt-update.log')
        with self.phase('stack'):
            self._stack()

    def _cache_binds(self):
        """Host cache folders for pip (root and stack) and apt."""
        uid = gid = None
        for line in (self.root / 'etc/passwd').read_text().splitlines():
            fields = line.split(':')
            if fields[0] == 'stack':
                uid, gid = int(fields[2]), int(fields[3])
        binds = []
        for name, inside, owner in (
                ('pip-root', '/root/.cache/pip', (0, 0)),
                ('pip-stack', '/opt/stack/.cache/pip', (uid, gid)),
                ('apt-archives', '/var/cache/apt/archives', (0, 0))):
            host = self.cache / name
            host.mkdir(parents=True, exist_ok=True)
            os.chown(host, *owner)
            target = self.root / inside.lstrip('/')
            target.mkdir(parents=True, exist_ok=True)
            os.chown(target, *owner)
            os.chown(target.parent, *owner)  # ~/.cache
            binds.append((str(host), inside))
        return binds

    def _stack(self):
        self.box.run_as_stack(
            'test -d devstack || git clone -q -b %s '
            'file:///srv/git/openstack/devstack.git devstack'
            % snapshots.BRANCH, output=self.logs / 'stack.out')
        conf = self.root / 'opt/stack/devstack/local.conf'
        conf.write_text(localconf.render())
        self.box.run(['chown', 'stack:stack', '/opt/stack/devstack/local.conf'])
        result = self.box.run_as_stack(
            'cd devstack && ./stack.sh', check=False, timeout=STACK_TIMEOUT,
            output=self.logs / 'stack.out')
        self.stacked = True
        if result.returncode:
            raise StackFailed('stack.sh exited with %d; see %s'
                              % (result.returncode, self.logs / 'stack.out'))

    def unstack(self):
        """``unstack.sh``; the journal of VSM's units is saved first."""
        self.save_vsm_journal()
        with self.phase('unstack'):
            result = self.box.run_as_stack(
                'cd devstack && ./unstack.sh', check=False, timeout=600,
                output=self.logs / 'unstack.out')
        self.stacked = False
        if result.returncode:
            raise StackFailed('unstack.sh exited with %d; see %s'
                              % (result.returncode,
                                 self.logs / 'unstack.out'))

    def down(self):
        """Stop what this run started (by PID) and remove its tree.
        Raises :class:`container.HostRoutesChanged` if the host's routes
        differ from before the network came up."""
        try:
            if self.box is not None:
                if self.stacked:
                    self.save_vsm_journal()
                with self.phase('stop'):
                    self.box.stop()
                    left = self.box.pids()
                    if left:
                        raise container.ContainerError(
                            'still running: %s' % left)
                if self.box.routes_before is not None:
                    self.routes_verdict = 'CHANGED'
                    self.box.check_host_routes()
                    self.routes_verdict = 'unchanged'
        finally:
            self.memory.stop()
            with self.phase('remove'):
                self._remove_tree(self.run_dir)

    # ----------------------------------------------------------- helpers --

    def openstack(self, *args, cloud='devstack', parse=True):
        """``openstack <args>`` in the container as the ``stack`` user with
        the clouds.yaml cloud ``cloud`` (``devstack`` is the demo user on
        the demo project). Returns parsed JSON (``-f json`` is added) or,
        with ``parse=False``, the text output."""
        argv = ['runuser', '-u', 'stack', '--', 'env', 'HOME=/opt/stack',
                'OS_CLOUD=' + cloud, OPENSTACK] + list(args)
        if parse:
            argv += ['-f', 'json']
        result = self.box.run(argv, check=False, timeout=300)
        if result.returncode:
            raise RuntimeError('openstack %s failed (%d): %s'
                               % (' '.join(args), result.returncode,
                                  result.stderr.strip()[-2000:]))
        return json.loads(result.stdout) if parse else result.stdout

    def units(self, pattern='devstack@vsm-*'):
        """``{unit: active state}`` of the loaded units matching."""
        out = self.box.run(['systemctl', 'list-units', '--all', '--plain',
                            '--no-legend', pattern]).stdout
        return {fields[0]: fields[2] for fields in
                (line.split() for line in out.splitlines()) if fields}

    def save_vsm_journal(self):
        """The journal of VSM's units to ``<logs>/vsm-journal.txt``."""
        self.box.run(['journalctl', '--no-pager', '-u', 'devstack@vsm-*'],
                     check=False, output=self.logs / 'vsm-journal.txt')
        return self.logs / 'vsm-journal.txt'

    def report(self):
        """Phase timings, total and memory peaks, one per line."""
        lines = ['%-8s %6.0f s' % (name, seconds)
                 for name, seconds in self.timings.items()]
        lines.append('%-8s %6.0f s' % ('total', sum(self.timings.values())))
        if self.routes_verdict:
            lines.append('host routes: %s (before the network came up '
                         'and after the container stopped)'
                         % self.routes_verdict)
        lines.append('peak memory: container processes (PSS) %d MiB; host '
                     'used %d MiB (%d MiB before the run, shared with '
                     'everything else running)'
                     % (self.memory.container_peak_mib,
                        self.memory.host_peak_mib,
                        self.memory.host_baseline_mib))
        return '\n'.join(lines)

    def _write_timings(self):
        if not self.logs.is_dir():
            return
        (self.logs / 'timings.txt').write_text(self.report() + '\n')
        latest = self.logs.parent / 'latest'
        if latest.is_symlink() and os.readlink(latest) != self.logs.name:
            latest.unlink()
        if not latest.is_symlink():
            latest.symlink_to(self.logs.name)

    def _write_pids(self):
        """Record our PIDs so a later run can tell this tree is in use."""
        pids = self.box.pids() if self.box else []
        (self.run_dir / 'pids').write_text(' '.join(map(str, pids)))

    def _remove_stale_runs(self):
        for run_dir in self.work.glob('run-*'):
            if run_dir == self.run_dir:
                continue
            pid_file = run_dir / 'pids'
            pids = pid_file.read_text().split() if pid_file.exists() else []
            if any(pathlib.Path('/proc', pid).exists() for pid in pids):
                continue
            LOG.info('removing stale run tree %s', run_dir)
            self._remove_tree(run_dir)

    @staticmethod
    def _remove_tree(path):
        path = pathlib.Path(path)
        if not path.exists():
            return
        with open('/proc/self/mounts') as f:
            mounted = [line.split()[1] for line in f
                       if line.split()[1].startswith(str(path) + '/')]
        if mounted:
            raise container.ContainerError(
                'not removing %s: still mounted: %s' % (path, mounted))
        shutil.rmtree(path)


def run_all(log=print):
    """The whole cycle without a test: up, unstack, down; the report."""
    ds = DevStackRun()
    try:
        ds.up()
        log('units after stack.sh: %s' % ds.units())
        ds.unstack()
        log('units after unstack.sh: %s' % ds.units())
    finally:
        ds.down()
        log(ds.report())
    return ds
