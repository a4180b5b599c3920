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

"""Channel: the agent's only link to the control plane, Nova server metadata.

Reads come from the **metadata service**
(``http://169.254.169.254/openstack/latest/meta_data.json``: no
credentials, works without a route to the management network; its ``meta``
key is the server metadata, ``uuid`` the server id, ``devices`` the tagged
volumes). Nova caches it per instance for ``[api]
metadata_cache_expiration`` (15 s by default), so answers arrive with that
delay. When it is unreachable the agent falls back to the Nova API
``GET /servers/{id}/metadata``.

Writes go to the **Nova API**, one key per call::

    PUT /servers/{id}/metadata/{key}   {"meta": {key: value}}

never ``PUT /servers/{id}/metadata`` (it replaces every key), after a
random delay of up to ``write_jitter_s`` so the agent and the service
rarely write at the same moment (Nova can lose one of two concurrent
writes; the protocol re-asserts, but fewer races is cheaper). The
credentials are a Keystone **application credential** from the config
file (``[nova] application_credential_id`` / ``_secret``, ``auth_url``).
keystoneauth1 is never imported by an idle agent; API calls run in a
short-lived child process by default (:mod:`vsm_agent.apicall`), so the
daemon never loads it at all.

Errors raise :class:`ChannelError` (``transient`` tells the caller to
retry with :class:`Backoff`); 409 from Nova (server locked or busy) is
transient. The daemon talks through a :class:`RetryingChannel`, which
backs off after failures, keeps a health line per direction for
``vsm-agent status`` and maps disk serials to volume ids. Usage::

    chan = channel.NovaChannel.from_conf(conf)
    meta = chan.read_metadata()          # {'vsm:resp:...': 'v=1;...', ...}
    chan.write(key, value)               # jittered single-key PUT
    chan.server_id                       # from meta_data.json 'uuid' or config

    link = channel.RetryingChannel(chan)
    meta = link.read_metadata(now)       # None while failing or backing off
    link.write(key, value)               # ChannelError has .retry_in (s)
    link.volume_ids_of({'6f1c2a4e-0b8d-4c1e-9'})
"""

import json
import logging
import random
import subprocess
import sys
import time
import typing
import urllib.error
import urllib.parse
import urllib.request

from oslo_config import cfg

from vsm_agent import discovery
from vsm_agent import protocol

LOG = logging.getLogger(__name__)

GROUP = 'nova'

nova_opts = [
    cfg.StrOpt('metadata_url',
               default='http://169.254.169.254/openstack/latest/'
                       'meta_data.json',
               help='The metadata service document to read answers from.'),
    cfg.FloatOpt('metadata_timeout_s', default=3.0, min=0.1,
                 help='Timeout of one metadata service request.'),
    cfg.StrOpt('server_id',
               help='This server\'s UUID. Default: the "uuid" of the '
                    'metadata service document.'),
    cfg.URIOpt('auth_url',
               help='Keystone URL (e.g. https://keystone.example.com/v3).'),
    cfg.StrOpt('application_credential_id',
               help='Application credential allowed to update this '
                    'server\'s metadata (role member, ideally restricted '
                    'by access rules to /v2.1/servers/<uuid>/metadata/*).'),
    cfg.StrOpt('application_credential_secret', secret=True,
               help='Secret of the application credential.'),
    cfg.StrOpt('region_name', help='Region of the compute endpoint.'),
    cfg.StrOpt('interface', default='public',
               choices=['public', 'internal', 'admin'],
               help='Catalog interface of the compute endpoint.'),
    cfg.URIOpt('endpoint_override',
               help='Compute endpoint to use instead of the catalog\'s.'),
    cfg.StrOpt('cafile', help='CA bundle for TLS verification.'),
    cfg.BoolOpt('insecure', default=False,
                help='Skip TLS verification (tests only).'),
    cfg.FloatOpt('api_timeout_s', default=10.0, min=0.1,
                 help='Timeout of one Nova API or Keystone request.'),
    cfg.FloatOpt('write_jitter_s', default=0.25, min=0.0,
                 help='Random delay of up to this many seconds before '
                      'each metadata write.'),
    cfg.BoolOpt('isolate_api_calls', default=True,
                help='Make each Nova API call in a short-lived child '
                     'process, so the daemon never loads keystoneauth1 '
                     '(~8 MB less resident memory; one token per call).'),
    cfg.BoolOpt('api_read_fallback', default=True,
                help='Read metadata through the Nova API when the '
                     'metadata service is unreachable.'),
]


def list_opts():
    return [(GROUP, nova_opts)]


class ChannelError(Exception):
    """A read or write failed. ``transient``: retry later with backoff."""

    def __init__(self, message: str, transient: bool = True,
                 status: typing.Optional[int] = None):
        super().__init__(message)
        self.transient = transient
        self.status = status
        #: set by :class:`RetryingChannel`: seconds until the next try
        self.retry_in: typing.Optional[float] = None


class Backoff:
    """Exponential backoff with full jitter, capped."""

    def __init__(self, initial: float = 2.0, maximum: float = 300.0,
                 rng: typing.Optional[random.Random] = None):
        self.initial, self.maximum = initial, maximum
        self.failures = 0
        self.not_before = 0.0
        self._rng = rng or random.Random()

    def ready(self, now: float) -> bool:
        return now >= self.not_before

    def failed(self, now: float) -> float:
        self.failures += 1
        ceiling = min(self.maximum, self.initial * 2 ** (self.failures - 1))
        delay = ceiling / 2 + self._rng.uniform(0, ceiling / 2)
        self.not_before = now + delay
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self.not_before = 0.0


class NovaChannel:
    """Metadata reads (metadata service, API fallback) and API writes."""

    def __init__(self, metadata_url: str, metadata_timeout_s: float = 3.0,
                 server_id: typing.Optional[str] = None,
                 auth_url: typing.Optional[str] = None,
                 application_credential_id: typing.Optional[str] = None,
                 application_credential_secret: typing.Optional[str] = None,
                 region_name: typing.Optional[str] = None,
                 interface: str = 'public',
                 endpoint_override: typing.Optional[str] = None,
                 cafile: typing.Optional[str] = None, insecure: bool = False,
                 api_timeout_s: float = 10.0, write_jitter_s: float = 0.25,
                 api_read_fallback: bool = True,
                 isolate_api_calls: bool = True, sleep=time.sleep):
        self.metadata_url = metadata_url
        self.metadata_timeout_s = metadata_timeout_s
        self._server_id = server_id
        self.auth_url = auth_url
        self.credential_id = application_credential_id
        self.credential_secret = application_credential_secret
        self.region_name = region_name
        self.interface = interface
        self.endpoint_override = endpoint_override
        self.cafile, self.insecure = cafile, insecure
        self.api_timeout_s = api_timeout_s
        self.write_jitter_s = write_jitter_s
        self.api_read_fallback = api_read_fallback
        self.isolate_api_calls = isolate_api_calls
        self._sleep = sleep
        self._adapter = None
        #: the last metadata document (devices, uuid) for discovery
        self.document: typing.Dict[str, typing.Any] = {}
        #: 'metadata' or 'api': where the last successful read came from
        self.last_read_source: typing.Optional[str] = None

    @classmethod
    def from_conf(cls, conf) -> 'NovaChannel':
        group = conf[GROUP]
        return cls(**{opt.dest: group[opt.dest] for opt in nova_opts})

    @property
    def can_write(self) -> bool:
        return bool(self.auth_url and self.credential_id
                    and self.credential_secret)

    # ------------------------------------------------------------ reads --

    def fetch_document(self) -> dict:
        """GET meta_data.json from the metadata service."""
        try:
            with urllib.request.urlopen(self.metadata_url,
                                        timeout=self.metadata_timeout_s
                                        ) as resp:
                document = json.loads(resp.read().decode('utf-8'))
        except (OSError, ValueError) as exc:
            raise ChannelError('metadata service %s unreachable: %s'
                               % (self.metadata_url, exc))
        if not isinstance(document, dict):
            raise ChannelError('metadata service returned no JSON object')
        self.document = document
        return document

    @property
    def server_id(self) -> str:
        if not self._server_id:
            uuid = self.document.get('uuid') or self.fetch_document().get(
                'uuid')
            if not uuid:
                raise ChannelError('the metadata service gave no server '
                                   'uuid; set [nova] server_id')
            self._server_id = str(uuid)
        return self._server_id

    def read_metadata(self) -> typing.Dict[str, str]:
        """This server's metadata dict; metadata service first, then API."""
        try:
            meta = self.fetch_document().get('meta') or {}
            self.last_read_source = 'metadata'
            return dict(meta)
        except ChannelError as exc:
            if not (self.api_read_fallback and self.can_write
                    and self._server_id):
                raise
            LOG.info('%s; reading through the Nova API', exc)
        meta = self._api('GET', '/servers/%s/metadata' % self.server_id
                         ).get('metadata', {})
        self.last_read_source = 'api'
        return dict(meta)

    def device_volume_ids(self) -> typing.Set[str]:
        """Volume ids the metadata document names (tagged devices)."""
        ids = set()
        for device in self.document.get('devices') or []:
            if isinstance(device, dict) and device.get('type') in (
                    None, 'disk') and device.get('serial'):
                ids.add(str(device['serial']).lower())
        return ids

    def attached_volume_ids(self) -> typing.Set[str]:
        """Volume ids attached to this server, from the Nova API."""
        body = self._api('GET', '/servers/%s/os-volume_attachments'
                         % self.server_id)
        return {str(a.get('volumeId', '')).lower()
                for a in body.get('volumeAttachments', [])
                if a.get('volumeId')}

    # ----------------------------------------------------------- writes --

    def write(self, key: str, value: str) -> None:
        """Single-key PUT of ``key`` = ``value``, after jitter."""
        if self.write_jitter_s > 0:
            self._sleep(random.uniform(0, self.write_jitter_s))
        path = '/servers/%s/metadata/%s' % (
            self.server_id, urllib.parse.quote(key, safe=':'))
        self._api('PUT', path, {'meta': {key: value}})

    # ------------------------------------------------------------- API --

    def _auth_params(self) -> dict:
        if not self.can_write:
            raise ChannelError('no Nova API credentials configured ([nova] '
                               'auth_url, application_credential_id/'
                               'secret)', transient=False)
        return {'auth_url': self.auth_url,
                'application_credential_id': self.credential_id,
                'application_credential_secret': self.credential_secret,
                'region_name': self.region_name,
                'interface': self.interface,
                'endpoint_override': self.endpoint_override,
                'cafile': self.cafile, 'insecure': self.insecure,
                'timeout': self.api_timeout_s}

    def _call(self, method: str, path: str, body) -> dict:
        auth = self._auth_params()
        if self.isolate_api_calls:
            params = json.dumps({'auth': auth, 'method': method,
                                 'path': path, 'body': body})
            try:
                proc = subprocess.run(
                    [sys.executable, '-m', 'vsm_agent.apicall'],
                    input=params.encode(), stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, check=False,
                    timeout=3 * self.api_timeout_s + 30)
                return json.loads(proc.stdout.decode() or 'null') or {
                    'error': 'API helper exited %d: %s' % (
                        proc.returncode,
                        proc.stderr.decode()[-300:].strip()),
                    'status': None}
            except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
                return {'error': 'API helper failed: %s' % exc,
                        'status': None}
        # In-process: keystoneauth1 is imported here, on first use only.
        from vsm_agent import apicall
        if self._adapter is None:
            self._adapter = apicall.make_adapter(auth)
        return apicall.call(self._adapter, method, path, body)

    def _api(self, method: str, path: str, body=None) -> dict:
        result = self._call(method, path, body)
        status = result.get('status')
        if status is None:
            raise ChannelError('Nova API %s %s failed: %s'
                               % (method, path, result.get('error')))
        if status >= 400:
            transient = status in (401, 408, 409, 429) or status >= 500
            raise ChannelError('Nova API %s %s: HTTP %d %s'
                               % (method, path, status,
                                  json.dumps(result.get('body'))[:200]),
                               transient=transient, status=status)
        body = result.get('body')
        return body if isinstance(body, dict) else {}


class RetryingChannel:
    """A channel behind backoff (one per direction), with a health line
    per direction for the status."""

    def __init__(self, channel, clock=time.time):
        #: a :class:`NovaChannel` (or a test's stand-in); replaced on reload
        self.channel = channel
        self.clock = clock
        self.read_backoff = Backoff()
        self.write_backoff = Backoff()
        self.health = {'read': 'not used yet', 'write': 'not used yet'}

    def read_metadata(self, now: float
                      ) -> typing.Optional[typing.Dict[str, str]]:
        """The server's metadata, or None while reads back off or fail."""
        if not self.read_backoff.ready(now):
            return None
        try:
            meta = self.channel.read_metadata()
        except ChannelError as exc:
            delay = self.read_backoff.failed(self.clock())
            self.health['read'] = 'failing: %s (retry in %.0f s)' % (
                exc, delay)
            LOG.warning('Reading metadata failed: %s; retrying in %.0f s',
                        exc, delay)
            return None
        self.read_backoff.succeeded()
        self.health['read'] = 'ok (%s)' % (
            self.channel.last_read_source or 'metadata')
        return meta

    def write(self, key: str, value: str) -> None:
        """Write one key.

        :raises ChannelError: with ``retry_in``, the backoff before the
            next write.
        """
        try:
            self.channel.write(key, value)
        except ChannelError as exc:
            exc.retry_in = self.write_backoff.failed(self.clock())
            self.health['write'] = 'failing: %s (retry in %.0f s)' % (
                exc, exc.retry_in)
            raise
        self.write_backoff.succeeded()
        self.health['write'] = 'ok'

    def volume_ids_of(self, serials: typing.Iterable[str]
                      ) -> typing.Dict[str, str]:
        """{serial: full volume id} for the serials Nova can tell apart.

        The metadata document's tagged devices and ``vsm:`` keys first;
        the Nova API's attachments only if that left a serial unknown.
        """
        candidates = set()
        try:
            self.channel.fetch_document()
            candidates |= self.channel.device_volume_ids()
            candidates |= set(protocol.read_metadata(
                self.channel.document.get('meta') or {}))
        except ChannelError as exc:
            LOG.info('Cannot read the metadata service to map disks: %s', exc)
        if any(discovery.match_volume_id(s, candidates) is None
               for s in serials) and self.channel.can_write:
            try:
                candidates |= self.channel.attached_volume_ids()
            except ChannelError as exc:
                LOG.info('Cannot list volume attachments: %s', exc)
        found = {}
        for serial in serials:
            volume_id = discovery.match_volume_id(serial, candidates)
            if volume_id:
                found[serial] = volume_id
        return found
