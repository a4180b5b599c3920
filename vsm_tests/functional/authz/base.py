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

"""The listener against the real local cloud: shared setup.

Needs a running local cloud (``python -m vsm_devenv.localcloud up``; the
tests fail, naming the command to run, when it is not up). Each test class
gets:

* its own Keystone project (``vsm-flow-<class>``, found or created; user
  ``demo`` is a member), so concurrent users of the shared cloud never
  move its usage under a limit test; servers and volumes are deleted
  afterwards, the project is kept for the next run;
* a VSM config file (:meth:`ListenerTestCase.write_config`) and
  ``vsm-authz-listener`` worker **subprocesses** on the real RabbitMQ;
* helpers to boot a server from a volume with an attached data volume,
  write a request as the demo user and wait for the answer.

``VSM_LOCALCLOUD_ROOT`` overrides the cloud's root directory.
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import testtools

from vsm_agent import protocol
from vsm_devenv.localcloud import fixture as localcloud_fixture

ROOT = os.environ.get('VSM_LOCALCLOUD_ROOT', '/var/tmp/vsm-localcloud')
INFO_FILE = os.path.join(ROOT, 'etc', 'localcloud.json')
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def load_info():
    try:
        with open(INFO_FILE) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def wait_for(predicate, timeout=60.0, interval=0.5, what='condition'):
    """Poll ``predicate``; a connection error of the (busy, shared) cloud
    counts as "not yet"."""
    from keystoneauth1 import exceptions as ksa_exc
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except (ksa_exc.ConnectionError, ksa_exc.http.HttpServerError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %.0fs waiting for %s'
                                 % (timeout, what))
        time.sleep(interval)


class Cloud:
    """openstacksdk connections to the local cloud."""

    def __init__(self, info):
        import openstack
        self.info = info
        os.environ['OS_CLIENT_CONFIG_FILE'] = info['clouds_yaml']
        self._openstack = openstack
        self.admin = openstack.connect(cloud='admin')
        self.system = openstack.connect(cloud='admin-system')

    def project(self, name, users=('demo',)):
        """Find or create a project with ``users`` as members."""
        idn = self.admin.identity
        project = idn.find_project(name, domain_id='default') or \
            idn.create_project(name=name, domain_id='default')
        member = idn.find_role('member')
        for user in users:
            idn.assign_project_role_to_user(project, idn.find_user(user),
                                            member)
        # Cinder's default of 10 volumes is too few for the concurrency
        # test (2 boot + 20 data volumes).
        self.admin.set_volume_quotas(project.id, volumes=100,
                                     gigabytes=1000)
        return project

    def as_user(self, user, project_name):
        return self._openstack.connect(
            auth_url=self.info['auth_url'], username=user,
            password=self.info['password'], project_name=project_name,
            user_domain_name='Default', project_domain_name='Default',
            region_name=self.info['region'])

    # ------------------------------------------------------------ limits --

    def set_limit(self, project_id, limit):
        """Project limit on VSM's resource (system admin); replaces any."""
        idn = self.system.identity
        vsm = self.info['vsm']
        for existing in idn.limits(project_id=project_id,
                                   resource_name=vsm['limit_resource']):
            idn.delete_limit(existing)
        if limit is not None:
            idn.create_limit(service_id=vsm['service_id'],
                             project_id=project_id,
                             resource_name=vsm['limit_resource'],
                             resource_limit=limit,
                             region_id=self.info['region'])

    def project_usage_gb(self, project_id):
        return sum(v.size for v in self.admin.block_storage.volumes(
            all_projects=True, project_id=project_id))


class GuestVM:
    """A server booted from a volume, with one attached data volume."""

    def __init__(self, conn, server, data_volume):
        self.conn = conn
        self.server = server
        self.volume = data_volume

    @property
    def id(self):
        return self.server.id

    def metadata(self):
        return self.conn.compute.get_server_metadata(self.server).metadata

    def write(self, key, value):
        """As the guest agent does: one key, PUT, demo credentials."""
        self.conn.compute.set_server_metadata(self.server, **{key: value})

    def write_request(self, volume_id, want, seq=1, cur=None,
                      state=protocol.RequestState.REQUESTED,
                      request_id=None):
        request = protocol.ExpansionRequest(
            volume_id=volume_id,
            request_id=request_id or protocol.new_request_id(), seq=seq,
            state=state, current_gb=cur if cur is not None else want - 1,
            requested_gb=want, timestamp=int(time.time()),
            reason='used_pct')
        self.write(request.key, request.encode())
        return request

    def response(self, volume_id):
        value = self.metadata().get(protocol.response_key(volume_id))
        return None if value is None else protocol.parse_response(
            protocol.response_key(volume_id), value)

    def wait_response(self, request, states, timeout=60):
        def answered():
            response = self.response(request.volume_id)
            if response is not None and response.answers(request) and \
                    response.state.value in states:
                return response
        return wait_for(answered, timeout, what='%s on %s' % (
            '|'.join(states), request.volume_id))


def boot_guest(conn, info, name, size_gb=1, data_gb=1):
    """Boot from a bootable volume (no Glance), attach a data volume."""
    bs = conn.block_storage
    boot = bs.create_volume(size=size_gb, name=name + '-boot',
                            volume_type='fake')
    data = bs.create_volume(size=data_gb, name=name + '-data',
                            volume_type='fake')
    for volume in (boot, data):
        bs.wait_for_status(volume, 'available', wait=120)
    bs.set_volume_bootable_status(boot, True)
    server = conn.compute.create_server(
        name=name, flavor_id=info['flavor']['id'], networks='none',
        block_device_mapping=[{'uuid': boot.id, 'source_type': 'volume',
                               'destination_type': 'volume',
                               'boot_index': 0,
                               'delete_on_termination': True}])
    server = conn.compute.wait_for_server(server, wait=180)
    conn.compute.create_volume_attachment(server, volume_id=data.id)
    data = bs.wait_for_status(bs.get_volume(data.id), 'in-use', wait=120)
    return GuestVM(conn, server, data)


class Listener:
    """``vsm-authz-listener`` as a subprocess."""

    def __init__(self, config_file, workers=1, log_file=None):
        self.config_file = config_file
        self.workers = workers
        self.log_file = log_file or config_file + '.log'
        self.proc = None

    def start(self):
        log = open(self.log_file, 'ab')
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            filter(None, (REPO, os.environ.get('PYTHONPATH')))))
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'vsm_authz.cmd.listener',
             '--config-file', self.config_file,
             '--workers', str(self.workers)],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO,
            start_new_session=True)
        return self

    def kill(self, signum=signal.SIGKILL):
        """Kill the whole process group (supervisor and workers)."""
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signum)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def stop(self):
        self.kill(signal.SIGTERM)

    def log(self):
        with open(self.log_file, errors='replace') as f:
            return f.read()


class ListenerTestCase(testtools.TestCase):
    """One project, VSM config, listener subprocesses per test class."""

    #: None: SQLite file; 'mariadb': a fresh database on the cloud's MariaDB
    database = None
    workers = 1

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.info = load_info()
        if cls.info is None:
            return
        cls.cloud = Cloud(cls.info)
        cls.project = cls.cloud.project('vsm-flow-%s' % cls.__name__.lower())
        cls.demo = cls.cloud.as_user('demo', cls.project.name)

    def setUp(self):
        super().setUp()
        if self.info is None:
            # Raises LocalCloudNotRunning with the command that starts it:
            # a functional test must fail, not skip, without its cloud.
            self.useFixture(localcloud_fixture.LocalCloud())
        self.tmp = self.useFixture(__import__('fixtures').TempDir()).path
        self.conf_file = self.write_config()
        self._configure_db_client()
        self.guests = []
        self.addCleanup(self._delete_guests)

    # ------------------------------------------------------------- config --

    def db_url(self):
        if self.database == 'mariadb':
            name = 'vsm_flow_%s' % uuid.uuid4().hex[:8]
            url = self.info['mariadb']['url_template'].format(database='')
            import sqlalchemy as sa
            engine = sa.create_engine(url)
            with engine.begin() as conn:
                conn.exec_driver_sql('CREATE DATABASE %s' % name)
            engine.dispose()

            def drop():
                engine = sa.create_engine(url)
                with engine.begin() as conn:
                    conn.exec_driver_sql('DROP DATABASE IF EXISTS %s'
                                         % name)
                engine.dispose()
            self.addCleanup(drop)
            return self.info['mariadb']['url_template'].format(
                database=name)
        return 'sqlite:///%s/vsm.sqlite' % self.tmp

    def extra_config(self):
        """Subclasses add sections here (a string of INI text)."""
        return ''

    def write_config(self):
        info = self.info
        self.db_connection = self.db_url()
        # A pool of our own and our project only: other users of the
        # shared cloud (another listener on vsm_notifications) neither
        # steal our messages nor act on our servers, and we not on theirs.
        self.pool = 'vsm-flow-test-%s' % uuid.uuid4().hex[:8]
        self.addCleanup(self._delete_queue, self.pool)
        text = CONFIG_TEMPLATE.format(
            pool=self.pool, project_id=self.project.id,
            transport_url=info['transport_url'], state_path=self.tmp,
            connection=self.db_connection, auth_url=info['auth_url'],
            password=info['password'], region=info['region'],
            endpoint_id=info['vsm']['endpoint_id'],
            resource=info['vsm']['limit_resource'],
            exchange=info['notifications']['exchange'],
            topic=info['notifications']['topic'])
        text += self.extra_config()
        path = os.path.join(self.tmp, 'vsm.conf')
        with open(path, 'w') as f:
            f.write(text)
        return path

    def shared_queue_consumers(self):
        """Consumers of the pool-less queue ``<topic>.info``: other VSM
        deployments on the shared cloud, which act on every project's
        requests unless they set ``[pipeline] projects``."""
        import kombu
        url = 'amqp://' + self.info['transport_url'].split('://', 1)[1]
        queue = '%s.info' % self.info['notifications']['topic']
        try:
            with kombu.Connection(url) as conn:
                return conn.default_channel.queue_declare(
                    queue, passive=True).consumer_count
        except Exception:  # no such queue: nobody ever listened
            return 0

    def _delete_queue(self, name):
        import kombu
        try:
            url = 'amqp://' + self.info['transport_url'].split('://', 1)[1]
            with kombu.Connection(url) as conn:
                conn.default_channel.queue_delete(name)
        except Exception:  # the queue was never declared
            pass

    def _configure_db_client(self):
        from oslo_config import cfg
        from vsm_authz import conf as vsm_conf
        from vsm_authz import db as db_api
        from vsm_authz.db import migration
        conf = cfg.ConfigOpts()
        vsm_conf.register_opts(conf)
        conf(['--config-file', self.conf_file], project='vsm')
        db_api.configure(conf)
        migration.upgrade('head')
        self.db = db_api

    # ----------------------------------------------------------- fixtures --

    def start_listener(self, workers=None):
        listener = Listener(self.conf_file, workers or self.workers,
                            os.path.join(self.tmp, 'listener-%d.log'
                                         % time.monotonic_ns())).start()
        self.addCleanup(listener.stop)
        self.addCleanup(self._attach_log, listener)
        # Our pool's queue exists once the workers consume: a request
        # written before that would be lost to us.
        workers = workers or self.workers
        wait_for(lambda: listener.proc.poll() is not None or
                 listener.log().count(' consuming ') >= workers,
                 60, 0.2, 'the listener to consume')
        if listener.proc.poll() is not None:
            raise AssertionError('listener exited: %s'
                                 % listener.log()[-3000:])
        return listener

    def _attach_log(self, listener):
        import testtools.content
        self.addDetail('listener-log-%s' % os.path.basename(
            listener.log_file), testtools.content.text_content(
                listener.log()[-20000:]))

    def boot(self, conn=None, name=None, data_gb=1):
        guest = boot_guest(conn or self.demo, self.info,
                           name or 'vsm-flow-%s' % uuid.uuid4().hex[:6],
                           data_gb=data_gb)
        self.guests.append(guest)
        return guest

    def _delete_guests(self):
        guests, self.guests = self.guests, []
        for guest in guests:
            conn = guest.conn
            try:
                conn.compute.delete_server(guest.server)
                conn.compute.wait_for_delete(guest.server, wait=120)
                volume = conn.block_storage.get_volume(guest.volume.id)
                conn.block_storage.wait_for_status(volume, 'available',
                                                   wait=60)
                conn.block_storage.delete_volume(volume)
            except Exception as exc:  # cleanup is best effort
                self.addDetail('cleanup-%s' % guest.id,
                               __import__('testtools').content.text_content(
                                   str(exc)))

    def cinder_size(self, volume_id):
        return self.cloud.admin.block_storage.get_volume(volume_id).size


CONFIG_TEMPLATE = """\
[DEFAULT]
transport_url = {transport_url}
state_path = {state_path}
debug = true

[database]
connection = {connection}

[service_auth]
auth_type = password
auth_url = {auth_url}
username = vsm
password = {password}
project_name = service
user_domain_name = Default
project_domain_name = Default

[nova]
region_name = {region}

[cinder]
region_name = {region}

[oslo_limit]
auth_type = password
auth_url = {auth_url}
username = vsm
password = {password}
user_domain_name = Default
system_scope = all
endpoint_id = {endpoint_id}

[unified_limits]
resource_name = {resource}

[listener]
exchange = {exchange}
topics = {topic}
pool = {pool}

[pipeline]
projects = {project_id}

[reconcile]
interval = 0

[oslo_messaging_notifications]
driver = messagingv2
topics = vsm_events

[extend]
timeout = 60
"""
