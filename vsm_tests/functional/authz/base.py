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
tests fail, naming the command to run, when it is not up). Each test gets
the :class:`~vsm_devenv.localcloud.fixture.LocalCloud` fixture
(``self.cloud``) and:

* its class's own Keystone project (``vsm-flow-<class>``, found or
  created; user ``demo`` is a member), so concurrent users of the shared
  cloud never move its usage under a limit test; servers, volumes and
  limits are undone afterwards, the project is kept for the next run;
* a VSM config file (:meth:`ListenerTestCase.write_config`) and
  ``vsm-authz-listener`` worker **subprocesses** on the real RabbitMQ;
* helpers to boot a server from a volume with an attached data volume,
  write a request as the demo user and wait for the answer.

``VSM_LOCALCLOUD_ROOT`` overrides the cloud's root directory.
"""

import os
import time
import uuid

import fixtures
from keystoneauth1 import exceptions as ksa_exc
import testtools

from vsm_agent import protocol
from vsm_devenv import listener
from vsm_devenv.localcloud.fixture import LocalCloud
from vsm_devenv.localcloud import layout
from vsm_devenv.wait import wait_for

REPO = str(layout.REPO_ROOT)


#: Errors of the (busy, shared) cloud that a wait counts as "not yet".
TRANSIENT = (ksa_exc.ConnectionError, ksa_exc.http.HttpServerError)


class GuestVM:
    """A server booted from a volume, with one attached data volume,
    written to through ``conn`` as its agent would."""

    def __init__(self, conn, booted):
        self.conn = conn
        self.server = booted.server
        self.volume = booted.data_volume

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
        return wait_for(answered, timeout, '%s on %s' % (
            '|'.join(states), request.volume_id), interval=0.5,
            ignore=TRANSIENT)


class ListenerTestCase(testtools.TestCase):
    """One project, VSM config, listener subprocesses per test class."""

    #: None: SQLite file; 'mariadb': a fresh database on the cloud's MariaDB
    database = None
    workers = 1

    def setUp(self):
        super().setUp()
        # Raises LocalCloudNotRunning with the command that starts it: a
        # functional test must fail, not skip, without its cloud.
        self.cloud = self.useFixture(LocalCloud(timeout=180))
        self.info = self.cloud.info
        self.project = self.cloud.project(
            'vsm-flow-%s' % type(self).__name__.lower())
        self.demo = self.cloud.connect_as('demo', self.project.name)
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.conf_file = self.write_config()
        self._configure_db_client()

    # ------------------------------------------------------------- config --

    def db_url(self):
        if self.database == 'mariadb':
            return self.cloud.create_database(
                'vsm_flow_%s' % uuid.uuid4().hex[:8])
        return 'sqlite:///%s/vsm.sqlite' % self.tmp

    def extra_config(self):
        """Subclasses add options here: ``{section: {option: value}}``."""
        return {}

    def write_config(self):
        info = self.info
        self.db_connection = self.db_url()
        # A pool of our own and our project only: other users of the
        # shared cloud (another listener on vsm_notifications) neither
        # steal our messages nor act on our servers, and we not on theirs.
        self.pool = 'vsm-flow-test-%s' % uuid.uuid4().hex[:8]
        self.addCleanup(self._delete_queue, self.pool)
        options = {
            'listener': {'pool': self.pool},
            'pipeline': {'projects': self.project.id},
            'unified_limits': {
                'resource_name': info['vsm']['limit_resource']},
            'reconcile': {'interval': '0'},
            'oslo_messaging_notifications': {'topics': 'vsm_events'},
            'extend': {'timeout': '60'},
        }
        for section, opts in self.extra_config().items():
            options.setdefault(section, {}).update(opts)
        text = listener.config(info, self.tmp, self.db_connection, options)
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
        runner = listener.AuthzListener(
            self.conf_file, workers or self.workers,
            os.path.join(self.tmp, 'listener-%d.log' % time.monotonic_ns()))
        self.addCleanup(self._attach_log, runner)
        # Ready once our pool's queue exists (every worker consumes): a
        # request written before that would be lost to us.
        return self.useFixture(runner)

    def _attach_log(self, listener):
        import testtools.content
        self.addDetail('listener-log-%s' % os.path.basename(
            listener.log_file), testtools.content.text_content(
                listener.log()[-20000:]))

    def boot(self, conn=None, name=None, data_gb=1):
        """A server of ``conn`` (default: demo in our project) booted from
        a volume with a data volume; deleted at cleanup."""
        conn = conn or self.demo
        booted = self.cloud.create_server_from_volume(
            cloud=conn, data_volume_gb=data_gb,
            name=name or 'vsm-flow-%s' % uuid.uuid4().hex[:6])
        return GuestVM(conn, booted)
