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
  ``vsm-manage db sync``) and the agent inside the guest (``guest.spawn``);

Usage (the local cloud must run the QMP driver: ``python -m
vsm_devenv.closedloop prepare`` brings it up or switches nova-compute)::

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
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import typing
import uuid

import fixtures

from vsm_agent import protocol
from vsm_devenv.guest import disks as disks_mod
from vsm_devenv.guest import harness
from vsm_devenv.guest import writer
from vsm_devenv import listener as listener_mod
from vsm_devenv.localcloud import info as info_mod
from vsm_devenv.localcloud import layout as layout_mod
from vsm_devenv.localcloud import metadata_proxy
from vsm_devenv.wait import wait_for

LOG = logging.getLogger(__name__)
GiB = 1 << 30
MiB = 1 << 20

#: Where the guest sees the host's Keystone and Nova API (QEMU guestfwd).
GUEST_API_ADDR = '10.0.2.100'
#: The guest's own address (eth0, QEMU user networking).
GUEST_ADDR = '10.0.2.15'
METADATA_ADDR = '169.254.169.254'
NOVA_MICROVERSION = '2.67'
CINDER_MICROVERSION = '3.42'
LIMIT_RESOURCE = 'vsm_storage_gigabytes'
#: Guest paths of the agent's files.
AGENT_CONF = '/etc/vsm/vsm-agent.conf'
AGENT_LOG = '/var/log/vsm-agent.log'
AGENT_STATE = '/var/lib/vsm-agent'
AGENT_STATUS = '/run/vsm-agent/status.json'
AGENT_MOTD_DIR = '/run/motd.d'
AGENT_MOTD = AGENT_MOTD_DIR + '/90-vsm-agent'
#: What the agent logs once its loop runs.
AGENT_STARTED = 'vsm-agent started'


class ClosedLoopError(RuntimeError):
    """Setting up or driving the loop failed; the message says where."""


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


# ------------------------------------------------------------ the cloud --


class Cloud:
    """The running local cloud (``localcloud.json``) and REST helpers.

    Speaks plain REST through keystoneauth1 sessions (explicit microversions
    and URLs: no client library between the test and the API).
    """

    def __init__(self, info=None, root=None):
        self.layout = layout_mod.Layout(root)
        self.info = info or info_mod.load(self.layout)
        if not self.info:
            raise ClosedLoopError(
                'the local cloud is not up under %s: run python -m '
                'vsm_devenv.localcloud up --nova-driver qmp' % self.layout.root
            )
        self.endpoints = self.info['endpoints']
        self._sessions = {}

    @property
    def qmp_driver(self):
        return self.info.get('nova_driver') == 'qmp'

    def session(self, name):
        """A keystoneauth1 session: ``admin``, ``admin-system``, ``demo``."""
        if name not in self._sessions:
            from keystoneauth1.identity import v3
            from keystoneauth1 import session as ks_session

            kw = dict(
                auth_url=self.info['auth_url'],
                username=name.split('-')[0],
                password=self.info['password'],
                user_domain_name='Default',
            )
            if name == 'admin-system':
                kw['system_scope'] = 'all'
            else:
                kw.update(project_name=name, project_domain_name='Default')
            self._sessions[name] = ks_session.Session(auth=v3.Password(**kw))
        return self._sessions[name]

    def project_id(self, name='demo'):
        return self.info['projects'][name]

    def user_id(self, name='demo'):
        return self.info['users'][name]

    # raw helpers: return the decoded JSON body (or None)
    def _call(
        self,
        who,
        method,
        url,
        body=None,
        headers=None,
        ok=(200, 201, 202, 204),
    ):
        resp = self.session(who).request(
            url, method, json=body, headers=headers or {}, raise_exc=False
        )
        if resp.status_code not in ok:
            raise ClosedLoopError(
                '%s %s as %s: HTTP %s %s'
                % (method, url, who, resp.status_code, resp.text[:500])
            )
        if resp.status_code == 404 and 404 in ok:
            return None
        try:
            return resp.json()
        except ValueError:
            return None

    def nova(
        self, method, path, body=None, who='admin', ok=(200, 201, 202, 204)
    ):
        return self._call(
            who,
            method,
            self.endpoints['nova'] + path,
            body,
            {'OpenStack-API-Version': 'compute ' + NOVA_MICROVERSION},
            ok,
        )

    def cinder(
        self, method, path, body=None, who='admin', ok=(200, 201, 202, 204)
    ):
        # the URL carries the caller's project; admin reaches other
        # projects' volumes by id
        url = '%s/%s%s' % (
            self.endpoints['cinder'],
            self.session(who).get_project_id(),
            path,
        )
        return self._call(
            who,
            method,
            url,
            body,
            {'OpenStack-API-Version': 'volume ' + CINDER_MICROVERSION},
            ok,
        )

    def keystone(
        self,
        method,
        path,
        body=None,
        who='admin-system',
        ok=(200, 201, 202, 204),
    ):
        return self._call(
            who, method, self.info['auth_url'] + path, body, None, ok
        )

    # ---- volumes ------------------------------------------------------------
    def create_volume(self, name, size_gb, bootable=False, volume_type='fake'):
        vol = self.cinder(
            'POST',
            '/volumes',
            {
                'volume': {
                    'name': name,
                    'size': size_gb,
                    'volume_type': volume_type,
                }
            },
            who='demo',
        )['volume']
        self.wait_volume(vol['id'], 'available')
        if bootable:
            self.cinder(
                'POST',
                '/volumes/%s/action' % vol['id'],
                {'os-set_bootable': {'bootable': True}},
                who='demo',
            )
        return vol['id']

    def volume(self, volume_id):
        return self.cinder('GET', '/volumes/%s' % volume_id, who='admin')[
            'volume'
        ]

    def volume_size(self, volume_id):
        return int(self.volume(volume_id)['size'])

    def wait_volume(self, volume_id, status, timeout=60):
        def check():
            vol = self.cinder('GET', '/volumes/%s' % volume_id, who='demo')[
                'volume'
            ]
            if vol['status'].startswith('error'):
                raise ClosedLoopError(
                    'volume %s went to %s' % (volume_id, vol['status'])
                )
            return vol['status'] == status

        wait_for(check, timeout, 'volume %s %s' % (volume_id, status))

    def extend_volume(self, volume_id, new_size_gb, who='admin'):
        """Cinder os-extend of an in-use volume (3.42), admin by default."""
        self.cinder(
            'POST',
            '/volumes/%s/action' % volume_id,
            {'os-extend': {'new_size': int(new_size_gb)}},
            who=who,
        )

    def delete_volume(self, volume_id, timeout=60):
        self.cinder(
            'DELETE', '/volumes/%s' % volume_id, who='admin', ok=(202, 404)
        )
        wait_for(
            lambda: (
                self.cinder(
                    'GET',
                    '/volumes/%s' % volume_id,
                    who='admin',
                    ok=(200, 404),
                )
                is None
                or self._volume_gone(volume_id)
            ),
            timeout,
            'volume %s deleted' % volume_id,
        )

    def _volume_gone(self, volume_id):
        vol = self.cinder(
            'GET', '/volumes/%s' % volume_id, who='admin', ok=(200, 404)
        )
        return vol is None or vol['volume']['status'] == 'deleted'

    # ---- servers ------------------------------------------------------------
    def boot_from_volume(self, name, boot_volume, data_volumes, timeout=120):
        """Boot a ``demo`` server from ``boot_volume`` + ``data_volumes``."""
        bdm = [
            {
                'boot_index': 0,
                'uuid': boot_volume,
                'source_type': 'volume',
                'destination_type': 'volume',
                'delete_on_termination': False,
            }
        ]
        bdm += [
            {
                'boot_index': -1,
                'uuid': vid,
                'source_type': 'volume',
                'destination_type': 'volume',
                'delete_on_termination': False,
            }
            for vid in data_volumes
        ]
        server = self.nova(
            'POST',
            '/servers',
            {
                'server': {
                    'name': name,
                    'flavorRef': self.info['flavor']['id'],
                    'networks': 'none',
                    'block_device_mapping_v2': bdm,
                }
            },
            who='demo',
        )['server']
        server_id = server['id']

        def active():
            s = self.nova('GET', '/servers/%s' % server_id, who='demo')[
                'server'
            ]
            if s['status'] == 'ERROR':
                raise ClosedLoopError(
                    'server %s went to ERROR: %s' % (server_id, s.get('fault'))
                )
            return s['status'] == 'ACTIVE' and not s.get(
                'OS-EXT-STS:task_state'
            )

        wait_for(active, timeout, 'server %s ACTIVE' % server_id)
        for vid in data_volumes:
            self.wait_volume(vid, 'in-use')
        return server_id

    def delete_server(self, server_id, timeout=60):
        self.nova('DELETE', '/servers/%s' % server_id, ok=(204, 404))
        wait_for(
            lambda: (
                self.nova('GET', '/servers/%s' % server_id, ok=(200, 404))
                is None
            ),
            timeout,
            'server %s deleted' % server_id,
        )

    def server_metadata(self, server_id, who='admin'):
        return self.nova('GET', '/servers/%s/metadata' % server_id, who=who)[
            'metadata'
        ]

    def instance_actions(self, server_id):
        return self.nova(
            'GET',
            '/servers/%s/os-instance-actions' % server_id,
        )['instanceActions']

    # ---- application credentials --------------------------------------------
    def nova_path_prefix(self):
        """Nova's mount path ('' here, '/compute' on DevStack)."""
        from urllib.parse import urlsplit

        path = urlsplit(self.endpoints['nova']).path  # e.g. '/v2.1'
        return path[: -len('/v2.1')] if path.endswith('/v2.1') else ''

    def create_app_credential(self, server_id, name=None):
        """App credential of ``demo`` (member) for the server's metadata only.

        Returns ``(id, secret)``. Access rules are only honoured because the
        local cloud's nova.conf sets ``[keystone_authtoken] service_type =
        compute``.
        """
        base = '/v2.1/servers/%s/metadata' % server_id
        if self.nova_path_prefix():
            base = '**' + base
        rules = [
            {'service': 'compute', 'method': m, 'path': p}
            for p in (base, base + '/*')
            for m in ('GET', 'PUT')
        ]
        rules.append({'service': 'compute', 'method': 'POST', 'path': base})
        body = {
            'application_credential': {
                'name': name or 'vsm-agent-%s' % server_id,
                'description': 'VSM agent of server %s (closed-loop test)'
                % server_id,
                'roles': [{'name': 'member'}],
                'access_rules': rules,
            }
        }
        cred = self.keystone(
            'POST',
            '/users/%s/application_credentials' % self.user_id(),
            body,
            who='demo',
        )['application_credential']
        return cred['id'], cred['secret']

    def delete_app_credential(self, cred_id):
        self.keystone(
            'DELETE',
            '/users/%s/application_credentials/%s' % (self.user_id(), cred_id),
            who='demo',
            ok=(204, 404),
        )

    # ---- Keystone unified limits --------------------------------------------
    def project_limit(self, project='demo', resource=LIMIT_RESOURCE):
        """``(limit id, value)`` of the project's override, or (None, None)."""
        limits = self.keystone(
            'GET',
            '/limits?project_id=%s&resource_name=%s&service_id=%s'
            % (
                self.project_id(project),
                resource,
                self.info['vsm']['service_id'],
            ),
        )['limits']
        if not limits:
            return None, None
        return limits[0]['id'], limits[0]['resource_limit']

    def set_project_limit(
        self, value, project='demo', resource=LIMIT_RESOURCE
    ):
        """Create or update the project's limit; returns the old value."""
        limit_id, old = self.project_limit(project, resource)
        if limit_id is None:
            self.keystone(
                'POST',
                '/limits',
                {
                    'limits': [
                        {
                            'service_id': self.info['vsm']['service_id'],
                            'project_id': self.project_id(project),
                            'region_id': self.info['region'],
                            'resource_name': resource,
                            'resource_limit': int(value),
                            'description': 'set by vsm_devenv.closedloop',
                        }
                    ]
                },
            )
        else:
            self.keystone(
                'PATCH',
                '/limits/%s' % limit_id,
                {'limit': {'resource_limit': int(value)}},
            )
        return old

    def delete_project_limit(self, project='demo', resource=LIMIT_RESOURCE):
        limit_id, _ = self.project_limit(project, resource)
        if limit_id:
            self.keystone('DELETE', '/limits/%s' % limit_id, ok=(204, 404))

    # ---- QMP registry (vsm_devenv.nova_driver.QMPFakeDriver) ----------------
    def qmp_registry_path(self, volume_id):
        return os.path.join(
            self.info.get('qmp_registry_dir', str(self.layout.qmp)),
            '%s.json' % volume_id,
        )

    def register_qmp(self, volume_id, qmp_socket, node_name):
        path = self.qmp_registry_path(volume_id)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump({'qmp_socket': qmp_socket, 'node_name': node_name}, f)
        os.replace(tmp, path)
        return path


def cloud_state(root=None):
    """'qmp' if a local cloud with the QMP driver is up, 'other', or None."""
    layout = layout_mod.Layout(root)
    info = info_mod.load(layout)
    if not info:
        return None
    env = dict(os.environ, VSM_LOCALCLOUD_ROOT=str(layout.root))
    rc = subprocess.run([sys.executable, '-m', 'vsm_devenv.localcloud',
                         'status'], capture_output=True, env=env).returncode
    if rc:
        return None
    return 'qmp' if info.get('nova_driver') == 'qmp' else 'other'


def prepare_cloud(log_path=None, say=None, root=None):
    """Make sure the local cloud runs with the QMP driver; True if started.

    A running cloud is reused (nova-compute switched to the QMP driver if
    needed); else a fresh one is brought up with it.
    """
    say = say or (lambda text: LOG.info('%s', text))
    layout = layout_mod.Layout(root)
    env = dict(os.environ, VSM_LOCALCLOUD_ROOT=str(layout.root))
    log_path = log_path or os.path.join(tempfile.gettempdir(),
                                        'vsm-localcloud-up.log')

    def localcloud(*args):
        with open(log_path, 'ab') as log:
            rc = subprocess.run(
                [sys.executable, '-m', 'vsm_devenv.localcloud'] + list(args),
                stdout=log, stderr=subprocess.STDOUT, env=env).returncode
        if rc:
            raise ClosedLoopError('vsm_devenv.localcloud %s failed; see %s'
                                  % (' '.join(args), log_path))

    state = cloud_state(root)
    if state == 'qmp':
        say('A local OpenStack cloud is already running: using it.')
        return False
    if state == 'other':
        say('A local OpenStack cloud is running: switching its compute '
            'service to the test hypervisor link.')
    else:
        say('Starting a local OpenStack cloud (Keystone, Nova, Cinder, '
            'Neutron, Placement, RabbitMQ, MariaDB) on 127.0.0.1; the '
            'first run installs packages (a few minutes)...')
    localcloud('up', '--reuse', '--nova-driver', 'qmp')
    say('Local cloud up.')
    return state is None


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
        cloud=None,
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
        self.cloud = cloud
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
        self.cloud = self.cloud or Cloud()
        if not self.cloud.qmp_driver:
            LOG.warning(
                'the local cloud runs nova driver %r, not qmp: Cinder extends '
                'will '
                'not reach the guest',
                self.cloud.info.get('nova_driver'),
            )
        if self.workdir is None:
            self.workdir = tempfile.mkdtemp(prefix='vsm-closedloop-')
            self.addCleanup(shutil.rmtree, self.workdir, True)
        tag = uuid.uuid4().hex[:6]
        # 1. volumes (fast: fake backend), then server and guest in parallel
        with self._timed('volumes'):
            self.boot_volume_id = self.cloud.create_volume(
                '%s-%s-boot' % (self.name, tag), 1, bootable=True
            )
            self.addCleanup(
                self._quietly, self.cloud.delete_volume, self.boot_volume_id
            )
            for spec in self.volumes:
                spec.volume_id = self.cloud.create_volume(
                    '%s-%s-%s' % (self.name, tag, spec.name), spec.size_gb
                )
                self.addCleanup(
                    self._quietly, self.cloud.delete_volume, spec.volume_id
                )
                spec.disk = disks_mod.DataDisk(
                    spec.size_gb * GiB, spec.volume_id
                )
        proxy_port = _free_port()
        ports = self.cloud.info['endpoints']
        from urllib.parse import urlsplit

        forwards = [harness.GuestForward(METADATA_ADDR, 80, proxy_port)]
        for service in ('keystone', 'nova'):
            port = urlsplit(ports[service]).port
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
                boot['server'] = self.cloud.boot_from_volume(
                    '%s-%s' % (self.name, tag), self.boot_volume_id,
                    [s.volume_id for s in self.volumes])
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
            if 'server' in boot:
                self.server_id = boot['server']
                self.addCleanup(self._quietly, self.cloud.delete_server,
                                self.server_id)
        if 'error' in boot:
            raise boot['error']
        self.timings['server boot'] = round(boot['server_s'], 2)
        # 2. the hypervisor link: QMP registry entries for volume-extended
        for spec in self.volumes:
            path = self.cloud.register_qmp(
                spec.volume_id, self.guest.qmp_socket_path, spec.disk.node_name
            )
            self.addCleanup(self._quietly, os.unlink, path)
        # 3. disks laid out and mounted
        with self._timed('guest disks'):
            for spec in self.volumes:
                if spec.layout:
                    spec.prepared = self.guest.prepare_disk(
                        spec.layout, spec.volume_id, spec.mountpoint
                    )
        # 4. credential + metadata proxy
        cred_id, secret = self.cloud.create_app_credential(self.server_id)
        self.app_credential = (cred_id, secret)
        self.addCleanup(
            self._quietly, self.cloud.delete_app_credential, cred_id
        )
        meta = self.cloud.info['metadata']
        self.proxy = metadata_proxy.MetadataProxy(
            self.server_id, self.cloud.project_id(), meta['url'],
            meta['shared_secret'], port=proxy_port, forwarded_for=GUEST_ADDR,
        ).start()
        self.addCleanup(self.proxy.stop)
        # 5. the project's limit
        if self.limit_gb is not None:
            old = self.cloud.set_project_limit(self.limit_gb)
            if old is None:
                self.addCleanup(self._quietly, self.cloud.delete_project_limit)
            else:
                self.addCleanup(
                    self._quietly, self.cloud.set_project_limit, old
                )
        if self._want_listener:
            self.start_listener()
        if self._want_agent:
            self.start_agent()

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
        from urllib.parse import urlsplit

        info = self.cloud.info
        ks, nova = (
            urlsplit(info['endpoints']['keystone']),
            urlsplit(info['endpoints']['nova']),
        )
        cred_id, secret = self.app_credential
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
                'application_credential_id': cred_id,
                'application_credential_secret': secret,
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
            [
                'python3',
                '-m',
                'vsm_agent.cmd.agent',
                '--config-file',
                AGENT_CONF,
                'run',
            ],
            log_path=AGENT_LOG,
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
            [
                'python3',
                '-m',
                'vsm_agent.cmd.agent',
                '--config-file',
                AGENT_CONF,
                'status',
            ]
            + list(args),
            check=False,
            timeout=120,
        )

    # ---- driving and watching -----------------------------------------------
    def statvfs(self, name):
        return guest_statvfs(self.guest, self.volume(name).mountpoint)

    def fill(self, name, fraction=None, nbytes=None, path=None, bs_mib=4):
        """Write zeros until ``fraction`` full (or ``nbytes`` more)."""
        spec = self.volume(name)
        used, fs, avail = self.statvfs(name)
        if nbytes is None:
            nbytes = max(0, int(fraction * fs) - used)
        count = max(1, nbytes // (bs_mib * MiB))
        path = path or '%s/fill-%d' % (spec.mountpoint, time.monotonic_ns())
        return self.guest.exec(
            [
                'dd',
                'if=/dev/zero',
                'of=' + path,
                'bs=%dM' % bs_mib,
                'count=%d' % count,
                'conv=fsync',
            ],
            check=False,
            timeout=600,
        )

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


def shell_quote(argv):
    return ' '.join(shlex.quote(a) for a in argv)


def main(argv=None):
    """``python -m vsm_devenv.closedloop prepare``: cloud up with the QMP driver.

    What ``tox -e e2e`` and ``tox -e bench`` need before they run.
    """
    import argparse
    parser = argparse.ArgumentParser(prog='python -m vsm_devenv.closedloop')
    parser.add_argument('command', choices=['prepare'])
    parser.add_argument('--log', help='bring-up log file')
    args = parser.parse_args(argv)
    prepare_cloud(args.log, say=print)
    return 0


if __name__ == '__main__':
    sys.exit(main())
