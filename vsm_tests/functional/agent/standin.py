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

"""A stand-in for Nova, the metadata service, Keystone and the control plane.

The agent's functional tests need the HTTP surface the agent talks to, not
a whole cloud. :class:`StandIn` is one stdlib HTTP server that serves:

=================================================  ==========================
``POST /v3/auth/tokens``                           Keystone: application
                                                   credential -> token +
                                                   catalog (compute)
``GET  /openstack/latest/meta_data.json``          metadata service (``uuid``,
                                                   ``meta``, ``devices``)
``GET  /compute/v2.1/servers/{id}/metadata``       Nova API read
``PUT  /compute/v2.1/servers/{id}/metadata/{k}``   Nova API single-key write
``GET  /compute/v2.1/servers/{id}/os-volume_``     Nova API volume list
``attachments``
=================================================  ==========================

It checks what the real services check (token on API calls, single-key
body matching the URL key, Nova's key and value limits) and records every
write with its time. When it sees a new ``vsm:req:`` request it plays the
control plane according to :attr:`StandIn.mode`:

* ``grant``: write ``granted``, call ``resize(volume_id, size_gb)`` (the
  test's stand-in for Cinder extend + Nova's volume-extended event: QMP
  ``block_resize`` for a QEMU guest, ``truncate`` + ``losetup -c`` for a
  loop device), then write ``extended``;
* ``deny``: write ``denied`` (reason ``over_limit``);
* ``pending``: write ``pending`` and wait.

Usage::

    standin = StandIn(server_id, volumes=[vol], resize=my_resize)
    standin.start()                  # standin.port, standin.url
    ...
    standin.wait_for(lambda: standin.acked(vol), timeout=60)
    standin.stop()
"""

import http.server
import json
import re
import threading
import time
import typing
import urllib.parse

from vsm_agent import protocol
from vsm_devenv import wait
from vsm_tests import httpjson

TOKEN = 'standin-token'


class StandIn:
    def __init__(self, server_id: str, volumes: typing.Sequence[str] = (),
                 resize: typing.Optional[typing.Callable[[str, int],
                                                         None]] = None,
                 mode: str = 'grant', app_cred=('cred-id', 'cred-secret'),
                 public_base: typing.Optional[str] = None,
                 decide_delay_s: float = 0.2):
        self.server_id = server_id
        self.volumes = list(volumes)
        self.resize = resize
        self.mode = mode
        #: per-volume override of mode
        self.modes: typing.Dict[str, str] = {}
        self.app_cred = app_cred
        self.public_base = public_base
        self.decide_delay_s = decide_delay_s
        self.metadata: typing.Dict[str, str] = {}
        self.lock = threading.RLock()
        #: [(time, key, value)] of every API write, agent and control plane
        self.writes: typing.List[typing.Tuple[float, str, str]] = []
        self.agent_writes: typing.List[typing.Tuple[float, str, str]] = []
        self.token_requests = 0
        self.metadata_reads = 0
        self.errors: typing.List[str] = []
        self._server = None

    # ------------------------------------------------------------ control --

    def start(self, host='127.0.0.1', port=0) -> 'StandIn':
        standin = self

        class Handler(_Handler):
            owner = standin

        self._server = http.server.ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever,
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return 'http://127.0.0.1:%d' % self.port

    def base_for_agent(self) -> str:
        """The URL the agent reaches this server under."""
        return self.public_base or self.url

    def agent_conf(self) -> str:
        """The [nova] section an agent needs to talk to this stand-in."""
        base = self.base_for_agent()
        return ('[nova]\n'
                'metadata_url = %s/openstack/latest/meta_data.json\n'
                'auth_url = %s/v3\n'
                'application_credential_id = %s\n'
                'application_credential_secret = %s\n'
                'write_jitter_s = 0.1\n'
                % (base, base, self.app_cred[0], self.app_cred[1]))

    def request(self, volume_id) -> typing.Optional[protocol.ExpansionRequest]:
        value = self.metadata.get(protocol.request_key(volume_id))
        return protocol.parse_request(protocol.request_key(volume_id),
                                      value) if value else None

    def response(self, volume_id):
        value = self.metadata.get(protocol.response_key(volume_id))
        return protocol.parse_response(protocol.response_key(volume_id),
                                       value) if value else None

    def acked(self, volume_id) -> bool:
        req = self.request(volume_id)
        return req is not None and req.state is protocol.RequestState.GROWN

    def requests_written(self, volume_id) -> int:
        key = protocol.request_key(volume_id)
        return sum(1 for _, k, v in self.agent_writes
                   if k == key and 'st=requested' in v)

    def wait_for(self, predicate, timeout: float, what: str = 'condition'):
        """:func:`vsm_devenv.wait.wait_for`, under the lock; a timeout
        names the metadata and the errors seen."""
        def ready():
            with self.lock:
                return predicate()
        try:
            wait.wait_for(ready, timeout, what, interval=0.05)
        except wait.WaitTimeout as e:
            raise AssertionError('%s; metadata: %s; errors: %s'
                                 % (e, self.metadata, self.errors))

    # -------------------------------------------------- the control plane --

    def _store(self, key, value, by_agent):
        with self.lock:
            self.metadata[key] = value
            entry = (time.time(), key, value)
            self.writes.append(entry)
            if by_agent:
                self.agent_writes.append(entry)

    def _respond(self, req, state, size, why):
        resp = protocol.ExpansionResponse(
            volume_id=req.volume_id, request_id=req.request_id, seq=req.seq,
            state=state, size_gb=size, timestamp=int(time.time()), reason=why)
        self._store(resp.key, resp.encode(), by_agent=False)

    def _on_agent_write(self, key, value):
        try:
            req = protocol.parse_request(key, value)
        except protocol.ProtocolError as exc:
            self.errors.append('bad request %s=%s: %s' % (key, value, exc))
            return
        if req.state is not protocol.RequestState.REQUESTED:
            return
        current = self.response(req.volume_id)
        if current is not None and current.answers(req):
            return  # a re-assertion: already handled
        threading.Thread(target=self._decide, args=(req,), daemon=True
                         ).start()

    def _decide(self, req):
        time.sleep(self.decide_delay_s)
        R = protocol.ResponseState
        mode = self.modes.get(req.volume_id, self.mode)
        if mode == 'deny':
            self._respond(req, R.DENIED, req.current_gb, 'over_limit')
        elif mode == 'pending':
            self._respond(req, R.PENDING, req.requested_gb, 'approval')
        else:
            self._respond(req, R.GRANTED, req.requested_gb, 'ok')
            try:
                if self.resize:
                    self.resize(req.volume_id, req.requested_gb)
            except Exception as exc:  # reported to the test
                self.errors.append('resize failed: %s' % exc)
                self._respond(req, R.FAILED, req.current_gb, 'extend_error')
                return
            self._respond(req, R.EXTENDED, req.requested_gb, 'ok')


class _Handler(httpjson.JsonHandler):
    owner: StandIn = None
    protocol_version = 'HTTP/1.1'

    _reply = httpjson.JsonHandler.send_json

    def _body(self):
        length = int(self.headers.get('Content-Length') or 0)
        raw = self.rfile.read(length) if length else b''
        return json.loads(raw) if raw else None

    def _authorized(self):
        if self.headers.get('X-Auth-Token') != TOKEN:
            self._reply(401, {'error': 'no or bad token'})
            return False
        return True

    def _server_path(self):
        path = urllib.parse.urlparse(self.path).path
        m = re.match(r'^/compute/v2\.1/servers/([^/]+)(/.*)?$', path)
        if not m:
            return None, None
        if m.group(1) != self.owner.server_id:
            self._reply(404, {'itemNotFound': {'message': 'no such server'}})
            return False, None
        return m.group(1), m.group(2) or ''

    def _authorized_server(self):
        """``(server_id, rest of path)``, or ``(None, None)`` once answered."""
        server, rest = self._server_path()
        if server is False:
            return None, None
        if server is None:
            self._reply(404, {'error': 'not found'})
            return None, None
        if not self._authorized():
            return None, None
        return server, rest

    def do_POST(self):
        if self.path.rstrip('/') == '/v3/auth/tokens':
            body = self._body() or {}
            ident = body.get('auth', {}).get('identity', {})
            cred = ident.get('application_credential', {})
            if (cred.get('id'), cred.get('secret')) != self.owner.app_cred:
                self._reply(401, {'error': {'message': 'bad credential'}})
                return
            self.owner.token_requests += 1
            base = self.owner.base_for_agent()
            token = {'token': {
                'methods': ['application_credential'],
                'expires_at': '2099-01-01T00:00:00.000000Z',
                'issued_at': '2026-01-01T00:00:00.000000Z',
                'user': {'id': 'u1', 'name': 'tenant-user',
                         'domain': {'id': 'default', 'name': 'Default'}},
                'project': {'id': 'p1', 'name': 'tenant',
                            'domain': {'id': 'default', 'name': 'Default'}},
                'roles': [{'id': 'r1', 'name': 'member'}],
                'application_credential': {'id': cred.get('id'),
                                           'restricted': True},
                'catalog': [{'type': 'compute', 'name': 'nova', 'id': 'c1',
                             'endpoints': [{
                                 'id': 'e1', 'interface': 'public',
                                 'region': 'RegionOne',
                                 'region_id': 'RegionOne',
                                 'url': base + '/compute/v2.1'}]}]}}
            self._reply(201, token, headers=[('X-Subject-Token', TOKEN)])
            return
        self._reply(404, {'error': 'not found'})

    def do_GET(self):
        path = urllib.parse.urlparse(self.path).path
        if path == '/openstack/latest/meta_data.json':
            self.owner.metadata_reads += 1
            self._reply(200, {
                'uuid': self.owner.server_id, 'name': 'guest',
                'project_id': 'p1',
                'meta': dict(self.owner.metadata),
                'devices': [{'type': 'disk', 'bus': 'virtio',
                             'serial': v, 'tags': ['data']}
                            for v in self.owner.volumes]})
            return
        server, rest = self._authorized_server()
        if server is None:
            return
        if rest == '/metadata':
            self._reply(200, {'metadata': dict(self.owner.metadata)})
        elif rest == '/os-volume_attachments':
            self._reply(200, {'volumeAttachments': [
                {'volumeId': v, 'serverId': server, 'id': v}
                for v in self.owner.volumes]})
        else:
            self._reply(404, {'error': 'not found'})

    def do_PUT(self):
        server, rest = self._authorized_server()
        if server is None:
            return
        m = re.match(r'^/metadata/(.+)$', rest)
        if not m:
            # PUT /servers/{id}/metadata replaces every key: the agent
            # must never do it.
            self.owner.errors.append('forbidden replace-all PUT %s'
                                     % self.path)
            self._reply(400, {'badRequest': {'message': 'not allowed here'}})
            return
        key = urllib.parse.unquote(m.group(1))
        body = self._body() or {}
        meta = body.get('meta')
        if (not isinstance(meta, dict) or list(meta) != [key]
                or not protocol.is_legal_for_nova(key, meta[key])):
            self.owner.errors.append('bad PUT %s %r' % (key, body))
            self._reply(400, {'badRequest': {'message': 'bad body'}})
            return
        self.owner._store(key, meta[key], by_agent=True)
        self._reply(200, {'meta': meta})
        if key.startswith(protocol.REQUEST_PREFIX):
            self.owner._on_agent_write(key, meta[key])
