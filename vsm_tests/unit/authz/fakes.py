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

"""Fakes of Nova, Cinder, locks, engine and notifier for the flow tests.

Shared by ``test_pipeline``, ``test_listener``, ``test_reconcile``,
``test_extend``, ``test_facts``, ``test_validation`` and ``test_answers``
(this module holds no tests). The fakes keep the shape of
the real APIs' answers (the dicts Nova and Cinder return) and count the
calls, so tests assert on observable behaviour: what was written to the
server metadata, how often Cinder was asked to extend.
"""

import collections
import contextlib
import threading
import time
import uuid

from oslo_config import cfg
import testtools

from vsm_agent import protocol
from vsm_authz import clients
from vsm_authz import conf as vsm_conf
from vsm_authz.db import audit_log
from vsm_authz.db import fixture as db_fixture
from vsm_authz.db import policy_overrides
from vsm_authz import expansion_policy
from vsm_authz import pipeline
from vsm_authz import rules

PROJECT = 'a' * 32
OTHER_PROJECT = 'b' * 32


def new_uuid():
    return str(uuid.uuid4())


class FakeNova:
    def __init__(self):
        self.servers = {}
        self.attachments = collections.defaultdict(set)
        self.writes = []
        self.conflicts = 0
        self.unavailable = False
        self.calls = collections.Counter()

    def add_server(self, project_id=PROJECT, metadata=None):
        server_id = new_uuid()
        self.servers[server_id] = {'id': server_id, 'tenant_id': project_id,
                                   'status': 'ACTIVE',
                                   'metadata': dict(metadata or {})}
        return server_id

    def _check(self):
        if self.unavailable:
            raise clients.CloudUnavailable('nova down')

    def get_server(self, server_id):
        self.calls['get_server'] += 1
        self._check()
        server = self.servers.get(server_id)
        return None if server is None else {
            **server, 'metadata': dict(server['metadata'])}

    def attached_volume_ids(self, server_id):
        self.calls['attached_volume_ids'] += 1
        self._check()
        return set(self.attachments[server_id])

    def put_metadata_item(self, server_id, key, value):
        self.calls['put_metadata_item'] += 1
        self._check()
        if self.conflicts:
            self.conflicts -= 1
            raise clients.Conflict('busy', 409)
        if server_id not in self.servers:
            raise clients.NotFound('gone', 404)
        self.servers[server_id]['metadata'][key] = value
        self.writes.append((server_id, key, value))

    def servers_with_vsm_keys(self, prefix):
        self.calls['list'] += 1
        for server in list(self.servers.values()):
            if any(k.startswith(prefix) for k in server['metadata']):
                yield {**server, 'metadata': dict(server['metadata'])}

    def responses(self, server_id, volume_id):
        value = self.servers[server_id]['metadata'].get(
            protocol.response_key(volume_id))
        return None if value is None else protocol.parse_response(
            protocol.response_key(volume_id), value)


class FakeCinder:
    """Extends complete on the next read (like the fake back end)."""

    def __init__(self):
        self.volumes = {}
        self.extends = []
        self.quota = {'gigabytes': {'limit': 1000, 'in_use': 0,
                                    'reserved': 0}}
        self.extend_behaviour = 'ok'  # ok | error | rollback | busy | 413
        self.pool_caps = {}
        self.types = {}
        self.messages = []
        self.unavailable = False
        self.lock = threading.Lock()
        self.calls = collections.Counter()

    def add_volume(self, nova, server_id, size=10, project_id=PROJECT,
                   status='in-use', host='host@fake#fake'):
        volume_id = new_uuid()
        self.volumes[volume_id] = {
            'id': volume_id, 'size': size, 'status': status,
            'os-vol-tenant-attr:tenant_id': project_id,
            'os-vol-host-attr:host': host, 'volume_type': 'fake',
            'attachments': [{'server_id': server_id}] if server_id else []}
        if server_id:
            nova.attachments[server_id].add(volume_id)
        return volume_id

    def _check(self):
        if self.unavailable:
            raise clients.CloudUnavailable('cinder down')

    def get_volume(self, volume_id):
        self.calls['get_volume'] += 1
        self._check()
        with self.lock:
            volume = self.volumes.get(volume_id)
            if volume is None:
                return None
            if volume['status'] == 'extending':
                target = volume.pop('_target')
                if self.extend_behaviour == 'ok':
                    volume.update(status='in-use', size=target)
                elif self.extend_behaviour == 'error':
                    volume['status'] = 'error_extending'
                elif self.extend_behaviour == 'rollback':
                    volume['status'] = 'in-use'
                    self.messages.append({
                        'created_at': '2026-01-01T00:00:00',
                        'user_message': 'extend volume:No valid backend '
                                        'was found. '})
                elif self.extend_behaviour == 'stuck':
                    volume['_target'] = target
            return dict(volume)

    def extend_volume(self, volume_id, new_size_gb):
        self.calls['extend_volume'] += 1
        self._check()
        with self.lock:
            volume = self.volumes[volume_id]
            if self.extend_behaviour == '413':
                raise clients.OverQuota('over quota', 413)
            if (self.extend_behaviour == 'busy'
                    or volume['status'] != 'in-use'):
                raise clients.BadRequest('invalid status', 400)
            assert new_size_gb > volume['size']
            volume['status'] = 'extending'
            volume['_target'] = new_size_gb
            self.extends.append((volume_id, new_size_gb))

    def quota_set(self, project_id):
        self.calls['quota_set'] += 1
        self._check()
        quota = {k: dict(v) for k, v in self.quota.items()}
        quota['gigabytes']['in_use'] = self.usage(project_id)
        return quota

    def usage(self, project_id):
        return sum(v['size'] for v in self.volumes.values()
                   if v['os-vol-tenant-attr:tenant_id'] == project_id)

    def project_volumes(self, project_id):
        self.calls['project_volumes'] += 1
        self._check()
        return [dict(v) for v in self.volumes.values()
                if v['os-vol-tenant-attr:tenant_id'] == project_id]

    def pools(self):
        self.calls['pools'] += 1
        return [{'name': name, 'capabilities': caps}
                for name, caps in self.pool_caps.items()]

    def volume_type(self, name):
        self.calls['volume_type'] += 1
        return self.types.get(name)

    def user_messages(self, volume_id):
        self.calls['user_messages'] += 1
        return list(self.messages)


class FakeLocks:
    def __init__(self):
        self._locks = collections.defaultdict(threading.Lock)
        self._guard = threading.Lock()
        self.taken = []

    @contextlib.contextmanager
    def _lock(self, name, timeout=None):
        from vsm_authz import locks
        with self._guard:
            lock = self._locks[name]
        if not lock.acquire(timeout=-1 if timeout is None else timeout):
            raise locks.LockTimeout(name, timeout)
        try:
            self.taken.append(name)
            yield
        finally:
            lock.release()

    def project(self, project_id, timeout=None):
        return self._lock('project-' + project_id, timeout)

    def volume(self, volume_id, timeout=None):
        return self._lock('volume-' + volume_id, timeout)

    def stop(self):
        pass


class FakeNotifier:
    def __init__(self):
        self.sent = []

    def __getattr__(self, event):
        if event.startswith('_'):
            raise AttributeError(event)
        return lambda record: self.sent.append((event, record.request_id))

    def events(self):
        return [event for event, _ in self.sent]


class FakeLimitChecker:
    """Stands in for vsm_authz.keystone_limits.LimitChecker (Keystone)."""

    def __init__(self, limit=None):
        self.limit = limit
        self.calls = 0

    def check(self, project_id, current_usage_gb, delta_gb):
        self.calls += 1
        from vsm_authz import keystone_limits
        if self.limit is not None and current_usage_gb + delta_gb > \
                self.limit:
            raise keystone_limits.OverLimit(project_id, 'vsm_storage_gigabytes',
                                            self.limit, current_usage_gb, delta_gb)


class FlowTestCase(testtools.TestCase):
    """A pipeline on fakes and a real SQLite database."""

    def setUp(self):
        super().setUp()
        self.useFixture(db_fixture.Database())
        self.conf = cfg.ConfigOpts()
        vsm_conf.register_opts(self.conf)
        self.conf([], project='vsm-test')
        self.conf.set_override('poll_interval', 0.05, group='extend')
        self.conf.set_override('timeout', 1.0, group='extend')
        self.conf.set_override('requeue_delay', 0, group='listener')
        self.nova = FakeNova()
        self.cinder = FakeCinder()
        self.locks = FakeLocks()
        self.notifier = FakeNotifier()
        self.checker = FakeLimitChecker()
        self.conf.set_override('cooldown_seconds', 0,
                               group='expansion_policy')
        self.engine = rules.build_engine(self.conf, enforcer=self.checker)
        self.flow = pipeline.Pipeline(
            self.conf, self.nova, self.cinder, self.locks, self.engine,
            self.notifier,
            policy_for=lambda p: expansion_policy.effective_policy(
                self.conf, policy_overrides, p))
        self.flow.driver.extender._sleep = lambda s: None

    # helpers
    def server_with_volume(self, size=10, project_id=PROJECT):
        server_id = self.nova.add_server(project_id)
        volume_id = self.cinder.add_volume(self.nova, server_id, size,
                                           project_id)
        return server_id, volume_id

    def write_request(self, server_id, volume_id, want, seq=1, cur=None,
                      state=protocol.RequestState.REQUESTED,
                      request_id=None, reason='used_pct'):
        request = protocol.ExpansionRequest(
            volume_id=volume_id,
            request_id=request_id or protocol.new_request_id(), seq=seq,
            state=state,
            current_gb=(self.cinder.volumes[volume_id]['size']
                        if cur is None and volume_id in self.cinder.volumes
                        else (cur or 1)),
            requested_gb=want, timestamp=int(time.time()), reason=reason)
        self.nova.servers[server_id]['metadata'][request.key] = \
            request.encode()
        return request

    def notify(self, server_id, project_id=PROJECT):
        metadata = dict(self.nova.servers[server_id]['metadata'])
        self.flow.handle_notification(server_id, project_id, metadata)

    def audit_events(self, **filters):
        return [a.event for a in audit_log.list_audit(limit=None, **filters)]
