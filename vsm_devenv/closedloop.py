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

"""The closed loop, wired together on the local cloud and a QEMU guest.

Everything VSM needs to run for real, end to end, on one machine:

* a Nova server of the ``demo`` project booted from a bootable volume, with
  one or more data volumes attached (Cinder backend ``fake``: it supports
  the in-use extend, microversion 3.42);
* a QEMU guest (:mod:`vsm_devenv.guest`) whose virtio data disks carry the
  data volumes' ids as serials (the guest sees ``volume_id[:20]``), laid
  out and mounted; each disk is registered in the QMP registry
  (``$ROOT/qmp/<volume_id>.json``) so that the real Cinder -> Nova
  ``volume-extended`` external event reaches
  ``vsm_devenv.nova_driver.QMPFakeDriver``, which grows the guest disk with
  QMP ``block_resize`` exactly as libvirt's blockResize does;
* an application credential of the ``demo`` user (role ``member``)
  restricted by access rules to ``/v2.1/servers/<uuid>/metadata[/*]``;
* a metadata proxy for that instance (signs requests like Neutron's proxy)
  forwarded to the guest's ``169.254.169.254:80``; Keystone and the Nova
  API forwarded to ``10.0.2.100:5000`` / ``:8774`` in the guest;
* the authorization listener (a subprocess, own SQLite database after
  ``vsm-manage db sync``, :mod:`vsm_devenv.listener`) and the agent inside
  the guest (``guest.spawn``).

Everything on the cloud goes through ``loop.cloud``, the
:class:`~vsm_devenv.localcloud.fixture.LocalCloud` fixture; the paced
writer is :mod:`vsm_devenv.guest.writer`; the demo's observer lives in
:mod:`vsm_devenv.demo.observer`.

Usage (the local cloud must run the QMP driver: ``python -m
vsm_devenv.localcloud up --reuse --nova-driver qmp`` brings it up or
switches nova-compute; :func:`unavailable` says whether it does)::

    loop = ClosedLoop(volumes=[VolumeSpec('data', 1, 'ext4-part', '/data')],
                      limit_gb=10)
    with loop:                                   # or useFixture(loop)
        loop.start_listener()
        loop.start_agent()                       # waits until it runs
        loop.allocate('data', fraction=0.9)      # or start_writer(...)
        loop.wait_for_request_state('data', 'grown', timeout=120)

Parts can be used alone: ``ClosedLoop(..., agent=False, listener=False)``
gives the hypervisor link and the guest's view of the metadata service and
the Nova API only (what ``test_hypervisor_link`` checks).

Works in any network namespace: everything binds 127.0.0.1 and QEMU's
guestfwd relays to 127.0.0.1, so ``ip netns exec <ns>`` with
``VSM_LOCALCLOUD_ROOT`` pointing at a second state root runs a private
cloud next to a shared one (same ports, separate loopback).

Teardown stops the agent, listener, proxy and guest, deletes the
server, volumes and application credential, removes the QMP registrations
and restores the project's limit, even after a failed setup.
"""

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import socket
import sqlite3
import tempfile
import threading
import time
import typing
import urllib.parse
import uuid

import fixtures

from vsm_agent import protocol
from vsm_devenv.guest import disks as disks_mod
from vsm_devenv.guest import harness
from vsm_devenv.guest import writer
from vsm_devenv import listener as listener_mod
from vsm_devenv.localcloud import fixture as localcloud_fixture
from vsm_devenv.localcloud import info as info_mod
from vsm_devenv.localcloud import layout as layout_mod
from vsm_devenv import nova_driver
from vsm_devenv.wait import wait_for

LOG = logging.getLogger(__name__)
GiB = 1 << 30
MiB = 1 << 20

#: Where the guest sees the host's Keystone and Nova API (QEMU guestfwd).
GUEST_API_ADDR = '10.0.2.100'
#: The guest's own address (eth0, QEMU user networking).
GUEST_ADDR = '10.0.2.15'
METADATA_ADDR = '169.254.169.254'
#: Guest paths of the agent's files.
AGENT_CONF = '/etc/vsm/vsm-agent.conf'
AGENT_CMD = ['python3', '-m', 'vsm_agent.cmd.agent', '--config-file',
             AGENT_CONF]
AGENT_LOG = '/var/log/vsm-agent.log'
AGENT_STATE = '/var/lib/vsm-agent'
AGENT_STATUS = '/run/vsm-agent/status.json'
AGENT_MOTD_DIR = '/run/motd.d'
AGENT_MOTD = AGENT_MOTD_DIR + '/90-vsm-agent'
#: What the agent logs once its loop runs.
AGENT_STARTED = 'vsm-agent started'


class ClosedLoopError(RuntimeError):
    """Setting up or driving the loop failed; the message says where."""


def unavailable(root=None):
    """Why the loop cannot run on this machine now, or None if it can."""
    layout = layout_mod.Layout(root)
    info = info_mod.load(layout)
    if not info:
        return ('the local cloud is not up under %s: run python -m '
                'vsm_devenv.localcloud up --nova-driver qmp' % layout.root)
    if info.get('nova_driver') != 'qmp':
        return ('the local cloud runs nova driver %r; the closed loop needs '
                '"python -m vsm_devenv.localcloud up --nova-driver qmp"'
                % info.get('nova_driver'))
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


# ------------------------------------------------------------ the guest --


@dataclasses.dataclass
class VolumeSpec:
    """One data volume of the loop: Cinder volume + guest disk + filesystem."""

    name: str
    size_gb: int
    layout: str = 'ext4-part'
    mountpoint: str = None
    #: filled in by ClosedLoop
    volume_id: str = None
    disk: disks_mod.DataDisk = None
    prepared: typing.Any = None

    def __post_init__(self):
        if self.mountpoint is None:
            self.mountpoint = '/mnt/' + self.name


def guest_statvfs(guest, mountpoint):
    """``(used_bytes, fs_bytes, avail_bytes)`` of a guest filesystem."""
    out = guest.exec(
        ['stat', '-f', '-c', '%S %b %f %a', mountpoint], timeout=30
    ).stdout
    bsize, blocks, free, avail = (int(x) for x in out.split())
    return (blocks - free) * bsize, blocks * bsize, avail * bsize


#: vsm.conf options of the loop's listener, under ``listener_options``.
LISTENER_OPTIONS = {
    # the e2e tier changes limits between scenarios: no caching
    'unified_limits': {'cache_seconds': '0'},
    'expansion_policy': {'cooldown_seconds': '0'},
    'reconcile': {'interval': '30', 'initial_delay': '5'},
}


# -------------------------------------------------------- the fixture --


class ClosedLoop(fixtures.Fixture):
    """The whole loop on the local cloud; see the module docstring.

    :param volumes: :class:`VolumeSpec` list (data volumes, in attach order)
    :param limit_gb: the demo project's ``vsm_storage_gigabytes`` limit
        (None: leave it as it is)
    :param agent_options: ``{section: {option: value}}`` for vsm-agent.conf
    :param listener_options: ``{section: {option: value}}`` for vsm.conf
    :param agent/listener: start them during setup
    :param memory_mb: guest RAM
    :param root: the local cloud's state root (default
        ``$VSM_LOCALCLOUD_ROOT``)

    ``cloud`` is the loop's :class:`~vsm_devenv.localcloud.fixture.LocalCloud`
    (set up with the loop): use it to read or extend what the loop made.
    """

    def __init__(
        self,
        volumes,
        limit_gb=None,
        agent_options=None,
        listener_options=None,
        agent=False,
        listener=False,
        memory_mb=384,
        workdir=None,
        root=None,
        name='vsm-e2e',
    ):
        super().__init__()
        self.volumes = list(volumes)
        self.limit_gb = limit_gb
        self.agent_options = agent_options or {}
        self.listener_options = listener_options or {}
        self._want_agent = agent
        self._want_listener = listener
        self.memory_mb = memory_mb
        self.workdir = workdir
        self.root = root
        self.cloud = None
        self.name = name
        self.guest = None
        self.server_id = None
        self.boot_volume_id = None
        self.listener = None
        self.agent_pid = None
        self.proxy = None
        self.app_credential = None
        self.timings = {}

    def volume(self, name):
        for spec in self.volumes:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @contextlib.contextmanager
    def _timed(self, what):
        t0 = time.monotonic()
        yield
        self.timings[what] = round(time.monotonic() - t0, 2)

    def _setUp(self):
        # The cloud's own cleanups delete the server, volumes, credential
        # and limit after everything else here has stopped.
        self.cloud = localcloud_fixture.LocalCloud(self.root)
        self.cloud.setUp()
        self.addCleanup(self._quietly, self.cloud.cleanUp)
        if self.cloud.info.get('nova_driver') != 'qmp':
            LOG.warning('the local cloud runs nova driver %r, not qmp: Cinder '
                        'extends will not reach the guest',
                        self.cloud.info.get('nova_driver'))
        if self.workdir is None:
            self.workdir = tempfile.mkdtemp(prefix='vsm-closedloop-')
            self.addCleanup(shutil.rmtree, self.workdir, True)
        tag = '%s-%s' % (self.name, uuid.uuid4().hex[:6])
        # 1. volumes (fast: fake backend), then server and guest in parallel
        with self._timed('volumes'):
            self.boot_volume_id = self.cloud.create_volume(
                1, bootable=True, name=tag + '-boot').id
            for spec in self.volumes:
                spec.volume_id = self.cloud.create_volume(
                    spec.size_gb, name='%s-%s' % (tag, spec.name)).id
                spec.disk = disks_mod.DataDisk(
                    spec.size_gb * GiB, spec.volume_id)
        proxy_port = _free_port()
        forwards = [harness.GuestForward(METADATA_ADDR, 80, proxy_port)]
        for service in ('keystone', 'nova'):
            port = self._endpoint(service).port
            forwards.append(harness.GuestForward(GUEST_API_ADDR, port, port))
        self.guest = harness.Guest(
            disks=[s.disk for s in self.volumes],
            forwards=forwards,
            memory_mb=self.memory_mb,
        )
        # The guest boots in THIS thread: the harness ties QEMU's life to
        # the thread that started it (PR_SET_PDEATHSIG). The server boots
        # from a helper thread meanwhile.
        boot = {}

        def boot_server():
            try:
                t0 = time.monotonic()
                boot['server'] = self.cloud.boot_server(
                    self.boot_volume_id, [s.volume_id for s in self.volumes],
                    name=tag).id
                boot['server_s'] = time.monotonic() - t0
            except BaseException as e:
                boot['error'] = e

        thread = threading.Thread(target=boot_server, name='server-boot')
        thread.start()
        try:
            self.addCleanup(self.guest.shutdown)
            with self._timed('guest boot'):
                self.guest.start()
        finally:
            thread.join()
            self.server_id = boot.get('server')
        if 'error' in boot:
            raise boot['error']
        self.timings['server boot'] = round(boot['server_s'], 2)
        # 2. the hypervisor link: QMP registry entries for volume-extended
        registry = self.cloud.info.get('qmp_registry_dir',
                                       str(self.cloud.layout.qmp))
        for spec in self.volumes:
            nova_driver.register_volume(registry, spec.volume_id,
                                        self.guest.qmp_socket_path,
                                        spec.disk.node_name)
            self.addCleanup(self._quietly, nova_driver.unregister_volume,
                            registry, spec.volume_id)
        # 3. disks laid out and mounted
        with self._timed('guest disks'):
            for spec in self.volumes:
                if spec.layout:
                    spec.prepared = self.guest.prepare_disk(
                        spec.layout, spec.volume_id, spec.mountpoint
                    )
        # 4. credential + metadata proxy
        self.app_credential = self.cloud.create_application_credential(
            name='vsm-agent-%s' % self.server_id, roles=['member'],
            access_rules=self._agent_access_rules())
        self.proxy = self.cloud.metadata_proxy(
            self.server_id, self.cloud.project_id('demo'), port=proxy_port,
            forwarded_for=GUEST_ADDR)
        # 5. the project's limit
        if self.limit_gb is not None:
            self.set_limit(self.limit_gb)
        if self._want_listener:
            self.start_listener()
        if self._want_agent:
            self.start_agent()

    def _endpoint(self, service):
        return urllib.parse.urlsplit(self.cloud.info['endpoints'][service])

    def _agent_access_rules(self):
        """The agent may read and write its own server's metadata only.

        Access rules are only honoured because the local cloud's nova.conf
        sets ``[keystone_authtoken] service_type = compute``.
        """
        base = '/v2.1/servers/%s/metadata' % self.server_id
        path = self._endpoint('nova').path
        if path.endswith('/v2.1') and path != '/v2.1':  # DevStack: /compute
            base = '**' + base
        rules = [{'service': 'compute', 'method': m, 'path': p}
                 for p in (base, base + '/*') for m in ('GET', 'PUT')]
        rules.append({'service': 'compute', 'method': 'POST', 'path': base})
        return rules

    def set_limit(self, gb):
        """The ``demo`` project's VSM limit (put back at cleanup)."""
        self.cloud.set_project_limit(self.cloud.project_id('demo'), gb)

    @staticmethod
    def _quietly(fn, *args):
        try:
            fn(*args)
        except Exception as e:
            LOG.warning(
                'cleanup %s%s failed: %s', getattr(fn, '__name__', fn), args, e
            )

    # ---- the control plane --------------------------------------------------
    def start_listener(self, **extra):
        """Start (or restart with other options) the authz listener.

        Its database is ``<workdir>/authz/vsm.sqlite`` (:meth:`db_rows`).
        """
        if self.listener is not None:
            self.listener.stop()
        options = {s: dict(o) for s, o in LISTENER_OPTIONS.items()}
        for source in (self.listener_options, extra):
            for section, opts in source.items():
                options.setdefault(section, {}).update(opts)
        workdir = os.path.join(self.workdir, 'authz')
        os.makedirs(workdir, exist_ok=True)
        conf = os.path.join(workdir, 'vsm.conf')
        with open(conf, 'w') as f:
            f.write(listener_mod.config(
                self.cloud.info, workdir, 'sqlite:///' + self._db_path(),
                options))
        self.listener = self.useFixture(listener_mod.AuthzListener(
            conf, log_file=os.path.join(workdir, 'listener.log'),
            db_sync=True))
        return self.listener

    def _db_path(self):
        return os.path.join(self.workdir, 'authz', 'vsm.sqlite')

    def db_rows(self, table):
        """Rows of a table of the listener's SQLite database, as dicts."""
        con = sqlite3.connect(self._db_path(), timeout=10)
        try:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute('SELECT * FROM %s' % table)]
        finally:
            con.close()

    # ---- the agent ----------------------------------------------------------
    def agent_config(self, overrides=None):
        """vsm-agent.conf for the guest: endpoints as the guest sees them."""
        info = self.cloud.info
        ks, nova = self._endpoint('keystone'), self._endpoint('nova')
        sections = {
            'DEFAULT': {'debug': 'true'},
            'agent': {
                'state_dir': AGENT_STATE,
                'interval_s': '1.0',
                'min_interval_s': '0.5',
                'answer_poll_s': '1.0',
                'grow_retry_s': '1.0',
            },
            'nova': {
                'metadata_url': 'http://%s/openstack/latest/meta_data.json'
                % METADATA_ADDR,
                'server_id': self.server_id,
                'auth_url': 'http://%s:%d%s'
                % (GUEST_API_ADDR, ks.port, ks.path),
                'application_credential_id': self.app_credential.id,
                'application_credential_secret':
                    self.app_credential.secret,
                'region_name': info['region'],
                'endpoint_override': 'http://%s:%d%s'
                % (GUEST_API_ADDR, nova.port, nova.path),
                'write_jitter_s': '0.1',
            },
            'discovery': {
                'include_mounts': ','.join(
                    s.mountpoint for s in self.volumes if s.layout
                ),
                'volume_ids': ','.join(s.volume_id for s in self.volumes),
            },
            'alerts': {
                'motd_dir': AGENT_MOTD_DIR,
                'status_file': AGENT_STATUS,
            },
        }
        for source in (self.agent_options, overrides or {}):
            for section, opts in source.items():
                sections.setdefault(section, {}).update(opts)
        return listener_mod.render_ini(sections)

    def start_agent(self, overrides=None, fresh_state=False, wait=True):
        """Write vsm-agent.conf into the guest and start ``vsm-agent run``.

        With ``wait`` (default), returns once the agent runs its loop: its
        start-up (Python imports under TCG) takes ~10 s, during which
        nothing is watched.
        """
        self.stop_agent()
        started = self.agent_log().count(AGENT_STARTED)
        self.guest.write_file(
            AGENT_CONF, self.agent_config(overrides), mode=0o600
        )
        if fresh_state:
            self.guest.exec(['rm', '-rf', AGENT_STATE])
        self.guest.exec(
            ['mkdir', '-p', AGENT_STATE, os.path.dirname(AGENT_LOG)]
        )
        self.agent_pid = self.guest.spawn(
            AGENT_CMD + ['run'], log_path=AGENT_LOG,
        )
        if not getattr(self, '_agent_cleanup', False):
            self.addCleanup(self.stop_agent)
            self._agent_cleanup = True
        if wait:
            def running():
                if self.guest.poll(self.agent_pid) is not None:
                    raise ClosedLoopError('vsm-agent exited: %s'
                                          % self.agent_log()[-3000:])
                return self.agent_log().count(AGENT_STARTED) > started
            wait_for(running, 120, 'vsm-agent to start', interval=0.5)
            time.sleep(1.0)    # its first samples
        return self.agent_pid

    def stop_agent(self):
        if self.agent_pid is not None and self.guest.is_running():
            try:
                if self.guest.poll(self.agent_pid) is None:
                    self.guest.kill(self.agent_pid)
                    self.guest.wait_exit(self.agent_pid, timeout=20)
            except Exception as e:
                LOG.warning('stopping the agent: %s', e)
        self.agent_pid = None

    def agent_log(self):
        try:
            return self.guest.read_file(AGENT_LOG).decode(errors='replace')
        except Exception:
            return ''

    def agent_status(self, *args):
        """Output of ``vsm-agent status`` in the guest (ExecResult)."""
        return self.guest.exec(
            AGENT_CMD + ['status'] + list(args), check=False, timeout=120,
        )

    # ---- driving and watching -----------------------------------------------
    def statvfs(self, name):
        return guest_statvfs(self.guest, self.volume(name).mountpoint)

    def allocate(self, name, fraction=None, nbytes=None):
        """Make a volume ``fraction`` full at once (posix_fallocate)."""
        used, fs, avail = self.statvfs(name)
        if nbytes is None:
            nbytes = max(0, int(fraction * fs) - used)
        mb = max(1, nbytes // MiB)
        return self.guest.exec(
            writer.argv(self.volume(name).mountpoint, 100000, mb,
                        chunk_mb=min(mb, 256),
                        prefix='a%d' % time.monotonic_ns()),
            check=False, timeout=300)

    def start_writer(self, name, rate_mb, total_mb, **kw):
        """Start a paced :mod:`~vsm_devenv.guest.writer` on a volume.

        Keyword arguments as :func:`vsm_devenv.guest.writer.argv`; returns
        its :class:`~vsm_devenv.guest.writer.Writer`.
        """
        return writer.start(self.guest, self.volume(name).mountpoint,
                            rate_mb, total_mb, **kw)

    def checksum(self, path):
        return self.guest.exec(
            ['sha256sum', path], timeout=300
        ).stdout.split()[0]

    def metadata_entry(self, name):
        entries = protocol.read_metadata(
            self.cloud.server_metadata(self.server_id)
        )
        return entries.get(
            self.volume(name).volume_id
        ) or protocol.VolumeEntry(self.volume(name).volume_id)

    def wait_for_request_state(self, name, state, timeout=120, after_seq=0):
        def check():
            req = self.metadata_entry(name).request
            return (
                req
                if (req and req.state.value == state and req.seq > after_seq)
                else None
            )

        return wait_for(
            check, timeout, '%s request state %s' % (name, state), interval=0.5
        )

    def wait_for_response_state(self, name, state, timeout=120, after_seq=0):
        def check():
            resp = self.metadata_entry(name).response
            return (
                resp
                if (
                    resp and resp.state.value == state and resp.seq > after_seq
                )
                else None
            )

        return wait_for(
            check,
            timeout,
            '%s response state %s' % (name, state),
            interval=0.5,
        )

    def describe(self):
        """A one-screen summary of the wiring, for logs and failures."""
        return json.dumps(
            {
                'server': self.server_id,
                'boot_volume': self.boot_volume_id,
                'volumes': {
                    s.name: {
                        'id': s.volume_id,
                        'size_gb': s.size_gb,
                        'layout': s.layout,
                        'mountpoint': s.mountpoint,
                        'node': s.disk.node_name if s.disk else None,
                    }
                    for s in self.volumes
                },
                'guest_workdir': self.guest.workdir if self.guest else None,
                'metadata_proxy_port': self.proxy.port if self.proxy else None,
                'timings': self.timings,
            },
            indent=1,
        )
