"""``LocalCloud``: the fixture for functional tests on the local cloud.

The cloud is started once, outside the tests (``python -m vsm_devenv.localcloud
up``); this fixture attaches to it by reading
``$VSM_LOCALCLOUD_ROOT/etc/localcloud.json``. If the cloud is not up, ``setUp``
fails with :class:`LocalCloudNotRunning`, whose message says how to start it:
tests error out, they never silently pass or skip.

Example::

    class TestExtend(testtools.TestCase):
        def setUp(self):
            super().setUp()
            self.cloud = self.useFixture(LocalCloud())

        def test_it(self):
            vm = self.cloud.create_server_from_volume(data_volume_gb=1)
            self.cloud.extend_volume(vm.data_volume.id, 2)

Everything a helper creates is deleted again by the fixture's cleanup.
Identities are the clouds in ``clouds.yaml``: ``admin`` (project admin),
``admin-system`` (system scope), ``demo`` and ``alt`` (members of their own
projects), ``vsm`` (VSM's service user: admin on project ``service`` and system
reader). ``info`` is the whole of localcloud.json (see :mod:`info`).

Needs openstacksdk and fixtures in the test environment; MariaDB helpers call
the ``mariadb`` client installed by ``up``.
"""

import collections
import os
import subprocess
import time
import uuid

import fixtures
import openstack
import openstack.config

from vsm_devenv.localcloud import info as info_mod
from vsm_devenv.localcloud.layout import Layout
from vsm_devenv.localcloud import metadata_proxy
from vsm_devenv.localcloud import procs

START_HINT = (
    'start it (as root) with:  python -m vsm_devenv.localcloud up   '
    '(2-4 min; see doc/source/contributor/localcloud.rst)'
)
VOLUME_EXTEND_MICROVERSION = '3.42'  # in-use extend
COMPUTE_MICROVERSION = '2.90'

BootedServer = collections.namedtuple(
    'BootedServer', 'server root_volume data_volume'
)
ApplicationCredential = collections.namedtuple(
    'ApplicationCredential', 'id secret user_id project_id auth_url'
)


class LocalCloudNotRunning(Exception):
    """The local cloud is not up (or not reachable) under the state root."""


class LocalCloud(fixtures.Fixture):
    """Attach to the local cloud; make test resources that clean up."""

    def __init__(self, root=None, timeout=120):
        super().__init__()
        self.layout = Layout(root)
        self.timeout = timeout
        self.info = None

    def _setUp(self):
        self.info = info_mod.load(self.layout)
        if self.info is None:
            raise LocalCloudNotRunning(
                f'the local cloud is not up under {self.layout.root} '
                f'(no {self.layout.info_file}): {START_HINT}'
            )
        if procs.http_status(self.info['auth_url']) is None:
            raise LocalCloudNotRunning(
                f'localcloud.json exists but Keystone does not answer at '
                f'{self.info["auth_url"]}: {START_HINT}'
            )
        self._connections = {}

    # ------------------------------------------------------------ identities
    # and clients
    def connect(self, cloud='admin'):
        """An openstacksdk Connection for a clouds.yaml entry (cached).

        Every helper's ``cloud`` argument also takes a Connection (e.g. from
        :meth:`connect_as`), which is used as it is.
        """
        if not isinstance(cloud, str):
            return cloud
        if cloud not in self._connections:
            config = openstack.config.OpenStackConfig(
                config_files=[self.info['clouds_yaml']], load_envvars=False
            )
            self._connections[cloud] = openstack.connection.Connection(
                config=config.get_one(cloud=cloud)
            )
        return self._connections[cloud]

    @property
    def admin(self):
        """Connection as the project-scoped admin."""
        return self.connect('admin')

    def project_id(self, name):
        """Id of project ``demo``, ``alt``, ``service`` or ``admin``."""
        if name == 'admin':
            return self.admin.current_project_id
        return self.info['projects'][name]

    def project(self, name, users=('demo',)):
        """Find or create a project with ``users`` as members (kept).

        Its Cinder quotas allow 100 volumes and 1000 GiB (the default of
        10 volumes is too few for a concurrency test).
        """
        idn = self.admin.identity
        project = idn.find_project(name, domain_id='default') or \
            idn.create_project(name=name, domain_id='default')
        member = idn.find_role('member')
        for user in users:
            idn.assign_project_role_to_user(project, idn.find_user(user),
                                            member)
        self.admin.set_volume_quotas(project.id, volumes=100, gigabytes=1000)
        return project

    def connect_as(self, user, project_name):
        """A Connection of a clouds.yaml user scoped to another project."""
        return openstack.connection.Connection(
            auth_url=self.info['auth_url'], username=user,
            password=self.info['password'], project_name=project_name,
            user_domain_name='Default', project_domain_name='Default',
            region_name=self.info['region'])

    def clouds_yaml_env(self, cloud='admin'):
        """Environment for a subprocess (a VSM service) using ``cloud``."""
        return {
            'OS_CLIENT_CONFIG_FILE': self.info['clouds_yaml'],
            'OS_CLOUD': cloud,
        }

    # ------------------------------------------------------------ volumes and
    # servers
    def create_volume(
        self,
        size_gb=1,
        volume_type='fake',
        cloud='demo',
        bootable=False,
        name=None,
    ):
        """An available volume (deleted at cleanup)."""
        bs = self.connect(cloud).block_storage
        vol = bs.create_volume(
            size=size_gb,
            volume_type=volume_type,
            name=name or f'test-{uuid.uuid4().hex[:8]}',
        )
        self.addCleanup(self._delete_volume, cloud, vol.id)
        vol = self.wait_for_volume(vol.id, 'available', cloud=cloud)
        if bootable:
            bs.set_volume_bootable_status(vol, True)
        return vol

    def create_server_from_volume(
        self,
        cloud='demo',
        data_volume_gb=1,
        data_volume_type='fake',
        root_volume_gb=1,
        name=None,
        metadata=None,
    ):
        """Boot a server from a bootable volume, with a data volume attached.

        No image and no network (``networks='none'``, compute microversion >=
        2.37). Returns ``BootedServer(server, root_volume, data_volume)`` once
        ACTIVE with both volumes in-use (``data_volume`` is None if
        ``data_volume_gb`` is 0). Deleted at cleanup.
        """
        root = self.create_volume(root_volume_gb, 'fake', cloud, bootable=True)
        data = None
        if data_volume_gb:
            data = self.create_volume(data_volume_gb, data_volume_type, cloud)
        server = self.boot_server(root.id, [data.id] if data else [], cloud,
                                  name, metadata)
        root = self.wait_for_volume(root.id, 'in-use', cloud=cloud)
        if data:
            data = self.wait_for_volume(data.id, 'in-use', cloud=cloud)
        return BootedServer(server, root, data)

    def boot_server(self, root_volume_id, data_volume_ids=(), cloud='demo',
                    name=None, metadata=None):
        """Boot from a bootable volume, data volumes attached at boot.

        Returns the server once ACTIVE with every data volume in-use
        (deleted at cleanup; the volumes are kept).
        """
        def mapping(volume_id, boot_index):
            return {'uuid': volume_id, 'source_type': 'volume',
                    'destination_type': 'volume', 'boot_index': boot_index,
                    'delete_on_termination': False}
        conn = self.connect(cloud)
        server = conn.compute.create_server(
            name=name or f'test-{uuid.uuid4().hex[:8]}',
            flavor_id=self.info['flavor']['id'],
            networks='none',
            block_device_mapping=[mapping(root_volume_id, 0)] + [
                mapping(v, -1) for v in data_volume_ids],
            metadata=metadata or {},
        )
        self.addCleanup(self._delete_server, cloud, server.id)
        server = conn.compute.wait_for_server(
            server,
            status='ACTIVE',
            failures=['ERROR'],
            interval=0.5,
            wait=self.timeout,
        )
        for volume_id in data_volume_ids:
            self.wait_for_volume(volume_id, 'in-use', cloud=cloud)
        return server

    def attach_volume(self, server_id, volume_id, cloud='demo'):
        """Attach an available volume; return it once in-use."""
        self.connect(cloud).compute.post(
            f'/servers/{server_id}/os-volume_attachments',
            json={'volumeAttachment': {'volumeId': volume_id}},
            microversion=COMPUTE_MICROVERSION,
        ).raise_for_status()
        return self.wait_for_volume(volume_id, 'in-use', cloud=cloud)

    def extend_volume(self, volume_id, new_size_gb, cloud='demo', wait=True):
        """os-extend at volume API 3.42 (in-use too); wait for the size."""
        bs = self.connect(cloud).block_storage
        before = bs.get_volume(volume_id).status
        resp = bs.post(
            f'/volumes/{volume_id}/action',
            json={'os-extend': {'new_size': new_size_gb}},
            headers={
                'OpenStack-API-Version': f'volume {VOLUME_EXTEND_MICROVERSION}'
            },
        )
        resp.raise_for_status()
        if wait:
            return self.wait_for_volume(
                volume_id, before, cloud=cloud, size=new_size_gb
            )
        return resp

    def wait_for_volume(
        self, volume_id, status, cloud='demo', size=None, timeout=None
    ):
        """Poll until ``status`` (and ``size``); fail fast on error states."""
        bs = self.connect(cloud).block_storage
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            vol = bs.get_volume(volume_id)
            if vol.status == status and (size is None or vol.size == size):
                return vol
            if vol.status.startswith('error') or time.monotonic() > deadline:
                raise AssertionError(
                    f'volume {volume_id}: status {vol.status} size '
                    f'{vol.size}, expected {status} size {size}'
                )
            time.sleep(0.2)

    def set_server_metadata_key(self, server_id, key, value, cloud='demo'):
        """Single-key PUT /servers/{id}/metadata/{key} (never replace-all)."""
        resp = self.connect(cloud).compute.put(
            f'/servers/{server_id}/metadata/{key}',
            json={'meta': {key: value}},
            microversion=COMPUTE_MICROVERSION,
        )
        resp.raise_for_status()
        return resp.json()['meta']

    def server_metadata(self, server_id, cloud='admin'):
        """The server's metadata (``GET /servers/{id}/metadata``)."""
        return self._compute_get(f'/servers/{server_id}/metadata',
                                 cloud)['metadata']

    def instance_actions(self, server_id, cloud='admin'):
        """The server's instance actions, newest first (dicts)."""
        return self._compute_get(f'/servers/{server_id}/os-instance-actions',
                                 cloud)['instanceActions']

    def _compute_get(self, path, cloud):
        resp = self.connect(cloud).compute.get(
            path, microversion=COMPUTE_MICROVERSION)
        resp.raise_for_status()
        return resp.json()

    def volume_size(self, volume_id):
        """Cinder's size of a volume (GiB), read as admin."""
        return self.admin.block_storage.get_volume(volume_id).size

    def project_usage_gb(self, project_id):
        """GiB of every volume of a project (Cinder, as admin)."""
        return sum(v.size for v in self.admin.block_storage.volumes(
            all_projects=True, project_id=project_id))

    def _delete_server(self, cloud, server_id):
        compute = self.connect(cloud).compute
        server = compute.find_server(server_id)
        if server:
            compute.delete_server(server)
            compute.wait_for_delete(server, interval=0.5, wait=self.timeout)

    def _delete_volume(self, cloud, volume_id):
        bs = self.connect(cloud).block_storage
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            vol = bs.find_volume(volume_id)
            if vol is None:
                return
            if vol.status in ('available', 'error', 'error_extending'):
                bs.delete_volume(vol, ignore_missing=True)
                return
            time.sleep(0.3)  # still detaching after its server was deleted

    # ------------------------------------------------------------ credentials
    # and limits
    def create_application_credential(
        self, cloud='demo', name=None, access_rules=None, roles=None
    ):
        """An application credential of ``cloud``'s user (only they can).

        ``access_rules``: e.g. ``[{'service': 'compute', 'method': 'PUT',
        'path': '/v2.1/servers/<id>/metadata/*'}]``; ``roles``: names, default
        all the user's roles on the project. Deleted at cleanup.
        """
        conn = self.connect(cloud)
        attrs = {'name': name or f'test-{uuid.uuid4().hex[:8]}'}
        if access_rules is not None:
            attrs['access_rules'] = access_rules
        if roles is not None:
            attrs['roles'] = [{'name': r} for r in roles]
        user_id = conn.current_user_id
        cred = conn.identity.create_application_credential(user_id, **attrs)
        self.addCleanup(
            conn.identity.delete_application_credential,
            user_id,
            cred.id,
            ignore_missing=True,
        )
        return ApplicationCredential(
            cred.id,
            cred.secret,
            user_id,
            conn.current_project_id,
            self.info['auth_url'],
        )

    def connect_with_application_credential(self, cred):
        """A Connection authenticated by an application credential."""
        return openstack.connection.Connection(
            auth_type='v3applicationcredential',
            region_name=self.info['region'],
            auth={
                'auth_url': cred.auth_url,
                'application_credential_id': cred.id,
                'application_credential_secret': cred.secret,
            },
        )

    def set_project_limit(self, project_id, limit, resource=None):
        """Set (or with None remove) a Keystone project limit until cleanup.

        Default resource: VSM's. An existing limit is updated; cleanup puts
        back what was there before. Returns that previous value (or None).
        """
        resource = resource or self.info['vsm']['limit_resource']
        before = self._put_limit(project_id, resource, limit)
        self.addCleanup(self._put_limit, project_id, resource, before)
        return before

    def _put_limit(self, project_id, resource, limit):
        idn = self.connect('admin-system').identity
        existing = next(iter(idn.limits(
            project_id=project_id, resource_name=resource,
            service_id=self.info['vsm']['service_id'])), None)
        if existing is None:
            if limit is not None:
                idn.create_limit(
                    service_id=self.info['vsm']['service_id'],
                    project_id=project_id,
                    region_id=self.info['region'],
                    resource_limit=limit,
                    resource_name=resource,
                )
            return None
        before = existing.resource_limit
        if limit is None:
            idn.delete_limit(existing.id)
        elif limit != before:
            idn.update_limit(existing.id, resource_limit=limit)
        return before

    @property
    def oslo_limit_config(self):
        """Path of a config file: ``[oslo_limit]`` for the vsm user."""
        return self.info['vsm']['oslo_limit_config']

    def use_oslo_limit(self, conf=None):
        """Load the vsm user's ``[oslo_limit]`` into ``conf`` until cleanup.

        Default ``conf``: the global ``cfg.CONF``, the only one
        ``oslo_limit.limit.Enforcer`` reads. Uses oslo.config's Config fixture,
        so the previous state is restored.
        """
        from oslo_config import cfg
        from oslo_config import fixture as config_fixture

        conf = conf if conf is not None else cfg.CONF
        self.useFixture(config_fixture.Config(conf))
        # Not Config.set_config_files: it keeps the project name an earlier
        # user of the global CONF gave (e.g. 'vsm'), and the file is then
        # not read at all (RequiredOptError for auth_url).
        conf(args=[], project=None,
             default_config_files=[self.oslo_limit_config])
        return conf

    # ------------------------------------------------------------ messaging,
    # database
    @property
    def transport_url(self):
        """RabbitMQ URL (Nova: exchange nova, topic vsm_notifications)."""
        return self.info['transport_url']

    def create_database(self, name=None):
        """A fresh MariaDB database (dropped at cleanup): its URL."""
        name = name or f'vsm_test_{uuid.uuid4().hex[:12]}'
        self._mariadb(f'CREATE DATABASE `{name}` CHARACTER SET utf8mb4')
        self.addCleanup(self._mariadb, f'DROP DATABASE IF EXISTS `{name}`')
        return self.info['mariadb']['url_template'].format(database=name)

    def _mariadb(self, sql):
        result = subprocess.run(
            [
                'mariadb',
                '--no-defaults',
                '--protocol=tcp',
                '-h',
                self.info['mariadb']['host'],
                '-P',
                str(self.info['mariadb']['port']),
                '-uroot',
                f'-p{self.info["password"]}',
                '-e',
                sql,
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode:
            raise RuntimeError(f'mariadb: {sql}: {result.stderr.strip()}')

    # ------------------------------------------------------------ metadata
    # service
    def metadata_headers(self, instance_id, project_id):
        """Headers for nova-metadata as Neutron's proxy sends them (signed)."""
        return metadata_proxy.metadata_headers(
            instance_id, project_id, self.info['metadata']['shared_secret']
        )

    def metadata_proxy(
        self, instance_id, project_id, port=0, host='127.0.0.1',
        forwarded_for=metadata_proxy.GUEST_ADDRESS,
    ):
        """A started :class:`MetadataProxy` for one instance."""
        proxy = metadata_proxy.MetadataProxy(
            instance_id,
            project_id,
            self.info['metadata']['url'],
            self.info['metadata']['shared_secret'],
            host=host,
            port=port,
            forwarded_for=forwarded_for,
        ).start()
        self.addCleanup(proxy.stop)
        return proxy


def is_running(root=None):
    """True if localcloud.json exists (for tooling, never to skip tests)."""
    return os.path.exists(Layout(root).info_file)
