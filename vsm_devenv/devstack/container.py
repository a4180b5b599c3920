"""A systemd container for DevStack, on a host whose PID 1 is not systemd.

DevStack runs every service as a ``devstack@<service>`` systemd unit, so it
needs systemd as PID 1. ``systemd-nspawn --boot`` gives the tree its own
systemd::

    box = Container(root, logs)
    box.boot()                  # systemd-nspawn, waits for "running"
    box.start_network()         # slirp4netns NAT; host routes checked
    box.run(['systemctl', 'is-system-running'])
    box.stop()                  # slirp4netns, then the container, by PID

How and why:

* ``--register=no --keep-unit``: there is no machined and no host systemd
  to register with or to create a scope;
* ``--private-network``: the container has its own network namespace, so
  DevStack's MySQL, RabbitMQ and APIs never meet the host's ports (a local
  cloud may hold 3306, 5672, 5000, 8774...) and never touch its routes;
* the network is user-mode NAT by ``slirp4netns`` (10.0.2.100, gateway
  10.0.2.2, DNS 10.0.2.3), attached to the **container's init** as seen
  from the host. Given a PID in the host's namespace, slirp4netns would put
  its tap device and a default route on the host: :meth:`start_network`
  refuses unless ``/proc/PID/ns/net`` differs from the host's, and compares
  the host's routes before and after (:class:`HostRoutesChanged`);
* ``/sys`` is read-only inside; DevStack's ``configure_ksm`` writes
  ``/sys/kernel/mm/ksm/run``, so a tmpfs is mounted over that folder;
* commands run in all the container's namespaces through ``nsenter``.

Only the two processes started here (systemd-nspawn and slirp4netns) are
stopped, by their PIDs.
"""

import logging
import os
import pathlib
import signal
import subprocess
import time

LOG = logging.getLogger(__name__)

HOST_IP = '10.0.2.100'
DNS_IP = '10.0.2.3'


class ContainerError(Exception):
    """The container could not be started or reached."""


class HostRoutesChanged(ContainerError):
    """The host's routing table changed while the network came up."""


def host_routes() -> str:
    """The host's IPv4 and IPv6 routes, as ``ip route`` prints them."""
    return ''.join(subprocess.run(
        ['ip', family, 'route'], check=True, capture_output=True,
        text=True).stdout for family in ('-4', '-6'))


def _netns(pid) -> str:
    return os.readlink('/proc/%s/ns/net' % pid)


class Container:
    """One booted ``systemd-nspawn`` container with slirp4netns NAT."""

    def __init__(self, root: pathlib.Path, logs: pathlib.Path,
                 name: str = 'devstack', binds=()):
        self.root = root
        self.logs = logs
        self.name = name
        self.binds = list(binds)  # (host path, container path)
        self.nspawn = None
        self.slirp = None
        self.init_pid = None
        self.routes_before = None
        self.routes_after = None

    # --------------------------------------------------------------- boot --

    def boot(self, timeout=120):
        """Start systemd in the tree; return when it is running."""
        argv = ['systemd-nspawn', '-D', str(self.root),
                '--machine=' + self.name, '--register=no', '--keep-unit',
                '--boot', '--private-network', '--resolv-conf=off']
        argv += ['--bind=%s:%s' % bind for bind in self.binds]
        log = open(self.logs / 'nspawn.log', 'ab')
        self.nspawn = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        log.close()
        LOG.info('systemd-nspawn pid %d', self.nspawn.pid)
        self.init_pid = self._find_init(timeout)
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            state = self.run(['systemctl', 'is-system-running'],
                             check=False).stdout.strip()
            if state in ('running', 'degraded'):
                break
            time.sleep(1)
        else:
            raise ContainerError('systemd in the container is %r after %ds'
                                 % (state, timeout))
        LOG.info('container init pid %d, systemd %s', self.init_pid, state)
        self.run(['mount', '-t', 'tmpfs', 'tmpfs', '/sys/kernel/mm/ksm'])

    def _find_init(self, timeout):
        """The child of systemd-nspawn that lives in another netns."""
        host_ns = _netns('self')
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.nspawn.poll() is not None:
                raise ContainerError('systemd-nspawn exited with %s; see %s'
                                     % (self.nspawn.returncode,
                                        self.logs / 'nspawn.log'))
            children = pathlib.Path('/proc/%d/task/%d/children'
                                    % (self.nspawn.pid, self.nspawn.pid))
            for pid in children.read_text().split():
                try:
                    if _netns(pid) != host_ns:
                        return int(pid)
                except FileNotFoundError:
                    continue
            time.sleep(0.5)
        raise ContainerError('no container init found after %ds' % timeout)

    # ------------------------------------------------------------ network --

    def start_network(self, timeout=30):
        """slirp4netns on the container's init; host routes must not move."""
        if _netns(self.init_pid) == _netns('self'):
            raise ContainerError('PID %d is in the host network namespace: '
                                 'refusing to attach slirp4netns to it'
                                 % self.init_pid)
        self.routes_before = host_routes()
        (self.logs / 'host-routes-before.txt').write_text(self.routes_before)
        log = open(self.logs / 'slirp4netns.log', 'ab')
        self.slirp = subprocess.Popen(
            ['slirp4netns', '--configure', '--mtu=65520',
             '--disable-host-loopback', str(self.init_pid), 'tap0'],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        LOG.info('slirp4netns pid %d', self.slirp.pid)
        deadline = time.monotonic() + timeout
        while HOST_IP not in self.run(['ip', '-4', 'addr', 'show'],
                                      check=False).stdout:
            if self.slirp.poll() is not None or time.monotonic() > deadline:
                raise ContainerError('tap0 did not get %s; see %s' % (
                    HOST_IP, self.logs / 'slirp4netns.log'))
            time.sleep(0.5)
        self.check_host_routes()

    def check_host_routes(self):
        """Raise :class:`HostRoutesChanged` if the host's routes moved."""
        self.routes_after = host_routes()
        if self.routes_after != self.routes_before:
            (self.logs / 'host-routes-after.txt').write_text(
                self.routes_after)
            raise HostRoutesChanged('host routes changed:\nbefore:\n%s\n'
                                    'after:\n%s' % (self.routes_before,
                                                    self.routes_after))

    # --------------------------------------------------------------- exec --

    def run(self, argv, check=True, timeout=None, output=None, **kwargs):
        """Run ``argv`` in the container (as root); returns the
        CompletedProcess (text). With ``output`` (a path) stdout and
        stderr go to that file instead."""
        argv = ['nsenter', '-t', str(self.init_pid), '-a', '--'] + list(argv)
        if output is not None:
            with open(output, 'ab') as out:
                return subprocess.run(argv, check=check, timeout=timeout,
                                      stdout=out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, **kwargs)
        return subprocess.run(argv, check=check, timeout=timeout,
                              capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, **kwargs)

    def run_as_stack(self, command, **kwargs):
        """A login shell command line as the ``stack`` user."""
        return self.run(['su', '-', 'stack', '-c', command], **kwargs)

    # --------------------------------------------------------------- stop --

    def pids(self):
        """The PIDs this object started and that still run."""
        return [p.pid for p in (self.slirp, self.nspawn)
                if p is not None and p.poll() is None]

    def stop(self, timeout=120):
        """Stop slirp4netns, then the container (SIGTERM asks systemd to
        halt; SIGKILL after ``timeout``)."""
        for proc, grace in ((self.slirp, 10), (self.nspawn, timeout)):
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                LOG.warning('pid %d ignored SIGTERM; killing it', proc.pid)
                proc.kill()
                proc.wait()
