"""Boot and drive a real Linux guest under QEMU (TCG) for VSM's functional tests.

The guest is a Debian kernel plus a busybox/python initramfs (see :mod:`.build`),
with the host's repo checkout mounted read-only at ``/opt/vsm`` (9p) and
``PYTHONPATH=/opt/vsm:/usr/lib/python3/dist-packages``, so the code under test is
always the working tree. Data disks are virtio-blk with serials, resizable over QMP
exactly like libvirt's blockResize. A control agent on a virtio-serial port runs
commands and forwards block uevents.

    from vsm_devenv.guest.harness import Guest, GuestForward
    from vsm_devenv.guest.disks import DataDisk, GiB

    with Guest(disks=[DataDisk(GiB, 'c0ffee00-1234-5678-9')],
               forwards=[GuestForward('169.254.169.254', 80, metadata_port)]) as g:
        dev = g.device_for_serial('c0ffee00-1234-5678-9')       # '/dev/vdb'
        disk = g.prepare_disk('xfs-lvm', 'c0ffee00-1234-5678-9', '/mnt/data')
        cursor = g.block_resize(g.disks[0].node_name, 2 * GiB)
        g.wait_uevent(lambda env: env.get('RESIZE') == '1', timeout=30, since=cursor)
        print(g.exec(['lsblk']).stdout)

Networking is QEMU user mode with ``restrict=on``: the guest reaches nothing but
the :class:`GuestForward` targets, each relayed by ``socat`` to 127.0.0.1:host_port.
Slirp only forwards addresses inside a netdev's own subnet, so eth0 is
10.0.2.15/24 (gateway 10.0.2.2) and every other /24 that a forward names gets its
own NIC at <net>.15/24 (e.g. 169.254.169.15 for 169.254.169.254).

Two QMP monitors: ``qmp_socket_path`` is left for other code (e.g. a test Nova
compute driver sending block_resize; connect per command, QMP serves one client at a
time); the harness uses a private one. The serial console goes to
``console_log_path``. Set ``VSM_GUEST_KEEP=1`` to keep the work dir after shutdown.
"""
import base64
import ctypes
import dataclasses
import ipaddress
import logging
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from vsm_devenv.guest import build
from vsm_devenv.guest import control
from vsm_devenv.guest import disks as disks_mod
from vsm_devenv.guest import layouts
from vsm_devenv.guest import qmp

LOG = logging.getLogger(__name__)

SHARE_TAG = 'vsmshare'
CONTROL_PORT = 'vsm.control'
DEFAULT_NET = ipaddress.ip_network('10.0.2.0/24')
PR_SET_PDEATHSIG = 1


class GuestError(RuntimeError):
    """The guest failed to boot or died; the message points at the console log."""


class GuestCommandFailed(RuntimeError):
    """A command run in the guest with check=True exited non-zero (``.result``)."""

    def __init__(self, argv, result):
        super().__init__('guest command %s exited %s%s\nstdout: %s\nstderr: %s' % (
            argv, result.rc, ' (timed out)' if result.timed_out else '',
            result.stdout[-2000:], result.stderr[-2000:]))
        self.result = result


@dataclasses.dataclass(frozen=True)
class GuestForward:
    """Guest TCP ``guest_addr:guest_port`` is relayed to host ``127.0.0.1:host_port``."""

    guest_addr: str
    guest_port: int
    host_port: int


@dataclasses.dataclass(frozen=True)
class ExecResult:
    rc: int
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False


def _mac(i):
    return '52:54:00:56:53:%02x' % (0x10 + i)


class Guest:
    """One QEMU guest. ``start()`` (or ``with``) boots it; ``shutdown()`` powers it off.

    :param disks: :class:`~vsm_devenv.guest.disks.DataDisk` list, attached in order
    :param forwards: :class:`GuestForward` list (guest -> host TCP relays)
    :param share: host directory mounted read-only at /opt/vsm (default: the repo
        checkout this package lives in); ``None`` would mean no share, use ``False``
    :param memory_mb: guest RAM
    :param image: a :class:`~vsm_devenv.guest.build.GuestImage` (default: built/cached)
    :param workdir: directory for sockets, disk images and the console log
        (default: a fresh temp dir, removed at shutdown unless VSM_GUEST_KEEP=1)
    :param boot_timeout: seconds to wait for the control agent's hello
    :param smp: vCPUs (1 boots fastest under TCG on a 2-core host)
    :param extra_qemu_args: appended to the QEMU command line
    """

    def __init__(self, disks=(), forwards=(), share=None, memory_mb=384, image=None,
                 workdir=None, boot_timeout=180.0, smp=1, extra_qemu_args=()):
        self.disks = list(disks)
        self.forwards = list(forwards)
        if share is None:
            share = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.share = share or None
        self.memory_mb = memory_mb
        self.image = image
        self.boot_timeout = boot_timeout
        self.smp = smp
        self.extra_qemu_args = list(extra_qemu_args)
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix='vsm-guest-')
        os.makedirs(self.workdir, exist_ok=True)
        self.qmp_socket_path = os.path.join(self.workdir, 'qmp.sock')
        self._qmp_private = os.path.join(self.workdir, 'qmp-harness.sock')
        self._control_path = os.path.join(self.workdir, 'control.sock')
        self.console_log_path = os.path.join(self.workdir, 'console.log')
        self.qemu_log_path = os.path.join(self.workdir, 'qemu.log')
        self._created_images = []
        self._serial_cache = {}
        self.proc = None
        self.channel = None
        self.boot_seconds = None
        self.hello = None

    # ---- command line ------------------------------------------------------------------
    def _networks(self):
        """[(network, [forwards])], eth0 = 10.0.2.0/24 first, then one per other /24."""
        nets = [(DEFAULT_NET, [])]
        for fwd in self.forwards:
            addr = ipaddress.ip_address(fwd.guest_addr)
            for net, fwds in nets:
                if addr in net:
                    fwds.append(fwd)
                    break
            else:
                nets.append((ipaddress.ip_network('%s/24' % addr, strict=False), [fwd]))
        return nets

    def _disk_path(self, disk):
        if disk.path:
            return disk.path
        return os.path.join(self.workdir, '%s.%s' % (disk.node_name, disk.fmt))

    def qemu_command(self, interactive=False):
        """The full QEMU argv (``interactive``: console on stdio and a shell, no agent)."""
        if self.image is None:
            self.image = build.ensure_image()
        # rootfstype=ramfs: a tmpfs rootfs is capped at half the RAM, too small for the image
        append = ['console=ttyS0', 'panic=-1', 'mitigations=off', 'rootfstype=ramfs',
                  'vsm.port=' + CONTROL_PORT]
        append.append('loglevel=4' if interactive else 'quiet')
        cmd = ['qemu-system-x86_64', '-accel', 'tcg,tb-size=128', '-cpu', 'max',
               '-m', str(self.memory_mb), '-smp', str(self.smp),
               '-nodefaults', '-no-user-config', '-nographic', '-no-reboot',
               '-kernel', self.image.kernel, '-initrd', self.image.initramfs,
               '-qmp', 'unix:%s,server=on,wait=off' % self.qmp_socket_path,
               '-chardev', 'socket,id=qmph,path=%s,server=on,wait=off' % self._qmp_private,
               '-mon', 'chardev=qmph,mode=control',
               '-device', 'virtio-rng-pci']
        if interactive:
            cmd += ['-serial', 'mon:stdio']
            append.append('vsm.shell=1')
        else:
            cmd += ['-serial', 'file:' + self.console_log_path,
                    '-chardev', 'socket,id=ctl,path=%s' % self._control_path,
                    '-device', 'virtio-serial-pci',
                    '-device', 'virtserialport,chardev=ctl,name=' + CONTROL_PORT]
        if self.share:
            cmd += ['-virtfs', 'local,path=%s,mount_tag=%s,security_model=none,readonly=on,'
                    'id=share0' % (self.share, SHARE_TAG)]
            append.append('vsm.share=' + SHARE_TAG)
        for i, (net, fwds) in enumerate(self._networks()):
            hosts = list(net.hosts())
            opts = ['user', 'id=n%d' % i, 'restrict=on', 'net=%s' % net,
                    'host=%s' % hosts[1], 'dns=%s' % hosts[2]]
            opts += ['guestfwd=tcp:%s:%d-cmd:socat STDIO TCP:127.0.0.1:%d'
                     % (f.guest_addr, f.guest_port, f.host_port) for f in fwds]
            cmd += ['-netdev', ','.join(opts),
                    '-device', 'virtio-net-pci,netdev=n%d,mac=%s,romfile=' % (i, _mac(i))]
            append.append('vsm.net=%s,%s/%d%s' % (_mac(i), hosts[14], net.prefixlen,
                                                  ',%s' % hosts[1] if i == 0 else ''))
        for disk in self.disks:
            cmd += ['-blockdev', 'driver=file,filename=%s,node-name=%s-file'
                    % (self._disk_path(disk), disk.node_name),
                    '-blockdev', 'driver=%s,file=%s-file,node-name=%s'
                    % (disk.fmt, disk.node_name, disk.node_name),
                    '-device', 'virtio-blk-pci,drive=%s,serial=%s,id=%s-dev'
                    % (disk.node_name, disk.serial, disk.node_name)]
        cmd += ['-append', ' '.join(append)] + self.extra_qemu_args
        return cmd

    # ---- life cycle --------------------------------------------------------------------
    def create_disk_images(self):
        """Create (sparse, empty) the images of disks that have no ``path``."""
        for disk in self.disks:
            path = self._disk_path(disk)
            if not disk.path and not os.path.exists(path):
                disks_mod.create_image(path, disk.size_bytes, disk.fmt)
                self._created_images.append(path)

    def start(self):
        """Create missing disk images, boot, wait for the control agent. Returns self."""
        self.create_disk_images()
        cmd = self.qemu_command()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self._control_path)
        listener.listen(1)
        self.channel = control.ControlChannel(listener)
        t0 = time.monotonic()
        LOG.info('booting guest: %s', ' '.join(shlex.quote(c) for c in cmd))
        with open(self.qemu_log_path, 'wb') as qlog:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=qlog,
                                         stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        try:
            self._wait_ready(t0)
        except BaseException:
            self._kill()
            raise
        finally:
            listener.close()
        self.boot_seconds = time.monotonic() - t0
        LOG.info('guest ready in %.1fs (guest uptime %.2fs)', self.boot_seconds,
                 self.hello.get('uptime', 0))
        return self

    def _wait_ready(self, t0):
        deadline = t0 + self.boot_timeout
        while True:
            self._check_alive()
            try:
                self.channel.accept(timeout=0.5)
                break
            except socket.timeout:
                if time.monotonic() > deadline:
                    raise GuestError('QEMU never connected the control channel; see %s'
                                     % self.qemu_log_path)
        while True:
            self._check_alive()
            try:
                self.hello = self.channel.wait_event(lambda e: e['event'] == 'hello', 0.5)
                return
            except control.ChannelClosed:
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
                self._check_alive()
                raise
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise GuestError('guest not ready after %.0fs; console: %s\n%s' % (
                        self.boot_timeout, self.console_log_path, self.console_output()[-3000:]))

    def _check_alive(self):
        if self.proc.poll() is not None:
            raise GuestError('QEMU exited with %s; %s\n%s\nconsole tail:\n%s' % (
                self.proc.returncode, self.qemu_log_path, _tail(self.qemu_log_path),
                self.console_output()[-3000:]))

    def is_running(self):
        return self.proc is not None and self.proc.poll() is None

    def shutdown(self, timeout=30.0):
        """Power the guest off (agent, then QMP quit, then SIGKILL); clean the work dir."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.channel.call('poweroff', timeout=5)
                self.proc.wait(timeout=timeout)
            except Exception:
                try:
                    with qmp.QMPClient(self._qmp_private, timeout=5) as mon:
                        mon.execute('quit')
                    self.proc.wait(timeout=10)
                except Exception:
                    self._kill()
        if self.channel is not None:
            self.channel.close()
        if self._own_workdir and not os.environ.get('VSM_GUEST_KEEP'):
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            for path in self._created_images:
                if os.path.exists(path) and not os.environ.get('VSM_GUEST_KEEP'):
                    os.unlink(path)

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.shutdown()

    def console_output(self):
        """The serial console so far (kernel messages, /init's log lines)."""
        try:
            with open(self.console_log_path, errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def qemu_stats(self):
        """{'cpu_s': user+sys CPU seconds, 'rss_max_mb': peak RSS} of the QEMU process."""
        with open('/proc/%d/stat' % self.proc.pid) as f:
            st = f.read().rsplit(')', 1)[1].split()
        cpu = (int(st[11]) + int(st[12])) / os.sysconf('SC_CLK_TCK')
        with open('/proc/%d/status' % self.proc.pid) as f:
            hwm = next(int(line.split()[1]) for line in f if line.startswith('VmHWM'))
        return {'cpu_s': cpu, 'rss_max_mb': hwm // 1024}

    # ---- commands ----------------------------------------------------------------------
    def exec(self, argv, env=None, timeout=300.0, check=True, input=None, cwd=None):
        """Run ``argv`` (a list, or a str for ``sh -c``) in the guest; return ExecResult.

        Raises :class:`GuestCommandFailed` if ``check`` and rc != 0 (or timed out).
        """
        args = {'timeout': timeout, 'env': env or {}, 'cwd': cwd, 'input': input}
        if isinstance(argv, str):
            args['shell'] = argv
        else:
            args['argv'] = [str(a) for a in argv]
        res = ExecResult(**self.channel.call('exec', args, timeout=timeout + 30))
        LOG.debug('guest$ %s -> rc=%s in %.2fs', argv, res.rc, res.duration)
        if check and (res.rc != 0 or res.timed_out):
            raise GuestCommandFailed(argv, res)
        return res

    def sh(self, script, **kw):
        """``exec(['sh', '-c', script])``; returns stdout (check=True by default)."""
        return self.exec(['/bin/sh', '-c', script], **kw).stdout

    def spawn(self, argv, env=None, cwd=None, log_path=None):
        """Start a background process in the guest; returns its pid.

        stdout+stderr go to ``log_path`` in the guest (default /tmp/spawn-<n>.log,
        see :meth:`spawn_log`); an ``exit`` event is emitted when it ends.
        """
        args = {'env': env or {}, 'cwd': cwd, 'log': log_path}
        if isinstance(argv, str):
            args['shell'] = argv
        else:
            args['argv'] = [str(a) for a in argv]
        res = self.channel.call('spawn', args, timeout=60)
        self._spawn_logs = getattr(self, '_spawn_logs', {})
        self._spawn_logs[res['pid']] = res['log']
        return res['pid']

    def spawn_log(self, pid):
        """Guest path of a spawned process's output log."""
        return self._spawn_logs[pid]

    def poll(self, pid):
        """Exit code of a spawned process, or None while it runs."""
        return self.channel.call('poll', {'pid': pid})['rc']

    def kill(self, pid, sig=15):
        self.channel.call('kill', {'pid': pid, 'signal': int(sig)})

    def wait_exit(self, pid, timeout=60.0):
        """Wait for a spawned process to end; returns its exit code."""
        ev = self.channel.wait_event(lambda e: e['event'] == 'exit' and e['pid'] == pid,
                                     timeout)
        return ev['rc']

    def read_file(self, path):
        """Bytes of a guest file."""
        return base64.b64decode(self.channel.call('read_file', {'path': path})['data_b64'])

    def write_file(self, path, data, mode=0o644, append=False):
        """Write bytes (or str, UTF-8) to a guest file, creating parent directories."""
        if isinstance(data, str):
            data = data.encode()
        self.channel.call('write_file', {'path': path, 'mode': mode, 'append': append,
                                         'data_b64': base64.b64encode(data).decode()})

    # ---- block devices -----------------------------------------------------------------
    def block_resize(self, node_name, new_size_bytes):
        """Grow a data disk from the host (QMP block_resize, like libvirt's blockResize).

        Returns the uevent cursor from just before the resize, for :meth:`wait_uevent`.
        """
        cursor = self.uevent_cursor()
        qmp.block_resize(self._qmp_private, node_name, new_size_bytes)
        LOG.info('block_resize %s -> %d', node_name, new_size_bytes)
        return cursor

    def uevent_cursor(self):
        """Position in the event stream; pass as ``since`` to see only later events."""
        return len(self.channel.events)

    def uevents(self, since=0):
        """Block uevents received so far (each {'env': {...}, 'uptime', 't_host', 'seq'})."""
        return [e for e in self.channel.events[since:] if e['event'] == 'uevent']

    def wait_uevent(self, pred, timeout=30.0, since=0):
        """First block uevent (seq >= since) whose env dict satisfies ``pred(env)``.

        e.g. ``pred=lambda env: env.get('DEVNAME') == 'vdb' and env.get('RESIZE') == '1'``.
        Raises TimeoutError.
        """
        return self.channel.wait_event(
            lambda e: e['event'] == 'uevent' and pred(e['env']), timeout, since)

    def device_for_serial(self, serial):
        """'/dev/vdX' of the virtio disk whose serial is ``serial[:20]`` (GuestError if none)."""
        serial = serial[:20]
        if serial not in self._serial_cache:
            out = self.sh('for d in /sys/block/*; do [ -r $d/serial ] && '
                          'echo "${d##*/} $(cat $d/serial)"; done; true')
            for line in out.splitlines():
                name, _, ser = line.partition(' ')
                self._serial_cache[ser] = '/dev/' + name
        try:
            return self._serial_cache[serial]
        except KeyError:
            raise GuestError('no guest disk with serial %r' % serial) from None

    def disk_size_bytes(self, dev):
        """Size the guest kernel reports for /dev/vdX (from /sys/block/vdX/size)."""
        name = os.path.basename(dev)
        return int(self.read_file('/sys/block/%s/size' % name).decode()) * 512

    def prepare_disk(self, layout, serial, mountpoint, timeout=300.0):
        """Lay out the disk with ``serial`` as ``layout`` (see :mod:`.layouts`) and mount it.

        Returns a :class:`~vsm_devenv.guest.layouts.PreparedDisk`.
        """
        prepared = layouts.plan(layout, serial, self.device_for_serial(serial), mountpoint)
        self.exec(['/bin/sh', '-c', layouts.prepare_script(prepared)], timeout=timeout)
        return prepared

    def grow_disk(self, prepared, timeout=300.0):
        """Grow a prepared disk's partition/PV/LV/filesystem by hand; returns stdout+stderr."""
        res = self.exec(['/bin/sh', '-c', layouts.grow_script(prepared)], timeout=timeout)
        return res.stdout + res.stderr

    def check_disk(self, prepared, timeout=300.0):
        """Unmount (if mounted) and check the filesystem read-only; returns the ExecResult."""
        mnt = shlex.quote(prepared.mountpoint)
        self.exec('if findmnt -rn --mountpoint %s >/dev/null; then umount %s; fi' % (mnt, mnt))
        return self.exec(['/bin/sh', '-c', layouts.check_script(prepared)], timeout=timeout)

    def fs_size_bytes(self, mountpoint):
        """Total size of the filesystem mounted at ``mountpoint`` (statvfs in the guest)."""
        blocks, frsize = self.exec(['stat', '-f', '-c', '%b %S', mountpoint]).stdout.split()
        return int(blocks) * int(frsize)


def _die_with_parent():
    """In the QEMU child: get SIGKILL when the test process (thread) that started it dies.

    Without this, a test run killed or crashed before ``shutdown()`` leaves QEMU
    running forever.
    """
    ctypes.CDLL('libc.so.6', use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _tail(path, n=3000):
    try:
        with open(path, errors='replace') as f:
            return f.read()[-n:]
    except OSError:
        return ''
