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

"""Nova and Cinder, as the authorization service sees them.

The service talks to the clouds with its own service credentials (a user
with ``admin`` on the service project: it reads every project's servers and
volumes) through keystoneauth1 adapters. Three option groups configure
them, all with the standard keystoneauth option names::

    [service_auth]          # auth plugin + session (timeout, cafile, ...)
    auth_type = password
    auth_url = http://keystone/v3
    username = vsm
    password = ...
    project_name = service
    user_domain_name = Default
    project_domain_name = Default

    [nova]                  # adapter: service_type, valid_interfaces,
    region_name = RegionOne # region_name, endpoint_override, retries

    [cinder]
    region_name = RegionOne

Usage::

    from vsm_authz import clients

    nova, cinder = clients.connect(conf)
    server = nova.get_server(server_id)           # None if it does not exist
    volume = cinder.get_volume(volume_id)
    cinder.extend_volume(volume_id, 12)           # microversion 3.42
    nova.put_metadata_item(server_id, key, value) # single key, 409 retried

Errors are translated into a small hierarchy so that callers can tell what
to do with a notification: :class:`CloudUnavailable` (Keystone, Nova or
Cinder unreachable or answering 5xx) is transient and the message is
requeued; :class:`NotFound`, :class:`Conflict`, :class:`OverQuota` and
:class:`BadRequest` are answers about the request itself. Every other
client error is a :class:`CloudError` with the HTTP status.

Nothing here decides anything; the adapters only fetch facts and act.
"""

import random
import time
import typing

from keystoneauth1 import exceptions as ksa_exc
from keystoneauth1 import loading as ks_loading
from oslo_config import cfg
from oslo_log import log as logging

from vsm_authz.conf import service_auth

LOG = logging.getLogger(__name__)

#: The first Cinder microversion that extends attached (in-use) volumes.
CINDER_EXTEND_IN_USE_MICROVERSION = '3.42'


# ---------------------------------------------------------------- errors --

class CloudError(Exception):
    """A Nova/Cinder/Keystone call failed. ``status`` is the HTTP status
    (None when no answer came back)."""

    transient = False

    def __init__(self, message: str, status: typing.Optional[int] = None):
        super().__init__(message)
        self.status = status


class CloudUnavailable(CloudError):
    """The cloud could not be reached or answered 5xx: try again later."""

    transient = True


class NotFound(CloudError):
    """404."""


class Conflict(CloudError):
    """409 (Nova: the server is busy or locked)."""


class OverQuota(CloudError):
    """413 (Cinder: the extend would exceed a quota)."""


class BadRequest(CloudError):
    """400 (Cinder: invalid status, already extending, size not larger)."""


_TRANSIENT_KSA = (ksa_exc.ConnectionError, ksa_exc.DiscoveryFailure,
                  ksa_exc.EndpointNotFound, ksa_exc.AuthorizationFailure,
                  ksa_exc.http.HttpServerError)


def _translate(exc: Exception, what: str) -> CloudError:
    status = getattr(exc, 'http_status', None)
    message = '%s: %s' % (what, exc)
    if isinstance(exc, _TRANSIENT_KSA) or (status or 0) >= 500:
        return CloudUnavailable(message, status)
    if isinstance(exc, ksa_exc.http.Unauthorized):
        # Keystone rejected our own token: usually a restart of Keystone
        # with new fernet keys; keystoneauth re-authenticates next time.
        return CloudUnavailable(message, status)
    return {404: NotFound, 409: Conflict, 413: OverQuota,
            400: BadRequest}.get(status, CloudError)(message, status)


class _Client:
    """Shared request wrapper: JSON in, JSON out, translated errors."""

    name = ''

    def __init__(self, adapter):
        self.adapter = adapter

    def _call(self, method: str, url: str, what: str, **kwargs):
        try:
            resp = self.adapter.request(url, method, **kwargs)
        except ksa_exc.ClientException as exc:
            raise _translate(exc, '%s %s' % (self.name, what)) from exc
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as exc:
            raise CloudUnavailable('%s %s: answer is not JSON'
                                   % (self.name, what)) from exc


# ------------------------------------------------------------------ nova --

class NovaClient(_Client):
    """The few Nova calls VSM needs, with admin (all projects) reach."""

    name = 'nova'

    def __init__(self, adapter, metadata_write_timeout: float = 60.0,
                 list_page_size: int = 500):
        super().__init__(adapter)
        self.metadata_write_timeout = metadata_write_timeout
        self.list_page_size = list_page_size

    def get_server(self, server_id: str) -> typing.Optional[dict]:
        """The server (with ``tenant_id`` and ``metadata``), or None."""
        try:
            return self._call('GET', '/servers/%s' % server_id,
                              'show server %s' % server_id)['server']
        except NotFound:
            return None

    def attached_volume_ids(self, server_id: str) -> typing.Set[str]:
        """Ids of the volumes Nova has attached to the server (boot volume
        included)."""
        body = self._call('GET', '/servers/%s/os-volume_attachments'
                          % server_id, 'volume attachments of %s' % server_id)
        return {a['volumeId'] for a in body.get('volumeAttachments', [])}

    def put_metadata_item(self, server_id: str, key: str, value: str) -> None:
        """Write one metadata key (``PUT /servers/{id}/metadata/{key}``).

        Never the whole dict: a full PUT replaces every key, and a merge
        POST races with the guest's own writes. Nova refuses writes with
        409 while the server has a task state; those are retried with
        jittered backoff until ``metadata_write_timeout``, then
        :class:`Conflict` is raised (the reconciliation re-asserts later).
        """
        deadline = time.monotonic() + self.metadata_write_timeout
        delay = 0.2
        while True:
            try:
                self._call('PUT', '/servers/%s/metadata/%s' % (server_id, key),
                           'write metadata %s of %s' % (key, server_id),
                           json={'meta': {key: value}})
                return
            except Conflict:
                if time.monotonic() + delay > deadline:
                    raise
                LOG.debug('Server %s busy (409) writing %s, retrying in '
                          '%.1fs', server_id, key, delay)
                time.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 5.0)

    def servers_with_vsm_keys(self, prefix: str
                              ) -> typing.Iterator[dict]:
        """Every server of every project whose metadata has a key starting
        with ``prefix``. One ``GET /servers/detail`` per page of
        ``list_page_size`` servers; the detail view carries the metadata,
        so no per-server call is needed to find the candidates."""
        marker = None
        while True:
            params = {'all_tenants': 1, 'limit': self.list_page_size}
            if marker:
                params['marker'] = marker
            page = self._call('GET', '/servers/detail', 'list servers',
                              params=params)['servers']
            for server in page:
                if any(k.startswith(prefix) for k in server.get('metadata')
                       or {}):
                    yield server
            if len(page) < self.list_page_size:
                return
            marker = page[-1]['id']


# ---------------------------------------------------------------- cinder --

class CinderClient(_Client):
    """The few Cinder calls VSM needs, with admin (all projects) reach."""

    name = 'cinder'

    def get_volume(self, volume_id: str) -> typing.Optional[dict]:
        """The volume (``size``, ``status``, ``attachments``,
        ``os-vol-tenant-attr:tenant_id``, ``volume_type``, host), or None."""
        try:
            return self._call('GET', '/volumes/%s' % volume_id,
                              'show volume %s' % volume_id)['volume']
        except NotFound:
            return None

    def extend_volume(self, volume_id: str, new_size_gb: int) -> None:
        """Ask Cinder to extend an attached volume to ``new_size_gb``.

        Returns once Cinder accepted (202); the extend itself runs in
        cinder-volume: poll :meth:`get_volume` for the outcome.
        """
        self._call('POST', '/volumes/%s/action' % volume_id,
                   'extend volume %s to %d GB' % (volume_id, new_size_gb),
                   json={'os-extend': {'new_size': new_size_gb}},
                   headers={'OpenStack-API-Version': 'volume %s'
                            % CINDER_EXTEND_IN_USE_MICROVERSION})

    def quota_set(self, project_id: str) -> dict:
        """Cinder's quota set of the project with usage
        (``{'gigabytes': {'limit', 'in_use', 'reserved'}, ...}``)."""
        return self._call('GET', '/os-quota-sets/%s' % project_id,
                          'quota of %s' % project_id,
                          params={'usage': 'True'})['quota_set']

    def project_volumes(self, project_id: str) -> typing.List[dict]:
        """Every volume of the project (admin listing, one call)."""
        return self._call('GET', '/volumes/detail', 'volumes of %s'
                          % project_id,
                          params={'all_tenants': 1,
                                  'project_id': project_id})['volumes']

    def pools(self) -> typing.List[dict]:
        """Back-end pools with capabilities (admin only)."""
        return self._call('GET', '/scheduler-stats/get_pools',
                          'list pools', params={'detail': 'True'})['pools']

    def volume_type(self, name_or_id: str) -> typing.Optional[dict]:
        """The volume type (with ``extra_specs`` for admins), or None."""
        try:
            return self._call('GET', '/types/%s' % name_or_id,
                              'show volume type %s' % name_or_id
                              )['volume_type']
        except NotFound:
            for vtype in self._call('GET', '/types', 'list volume types',
                                    params={'is_public': 'None'}
                                    )['volume_types']:
                if vtype.get('name') == name_or_id:
                    return vtype
            return None

    def user_messages(self, volume_id: str) -> typing.List[dict]:
        """Cinder's user messages about the volume (why an extend failed:
        e.g. no valid backend). Best effort: [] if not available."""
        try:
            body = self._call('GET', '/messages', 'messages of %s' % volume_id,
                              params={'resource_uuid': volume_id,
                                      'all_tenants': 1},
                              headers={'OpenStack-API-Version':
                                       'volume 3.3'})
        except CloudError as exc:
            LOG.debug('No user messages for volume %s: %s', volume_id, exc)
            return []
        return body.get('messages', [])


def volume_project(volume: dict) -> typing.Optional[str]:
    """The project that owns a Cinder volume (admin view attribute)."""
    return volume.get('os-vol-tenant-attr:tenant_id')


def volume_attached_servers(volume: dict) -> typing.Set[str]:
    """Servers Cinder believes the volume is attached to."""
    return {a.get('server_id') for a in volume.get('attachments') or []
            if a.get('server_id')}


def connect(conf: cfg.ConfigOpts) -> typing.Tuple[NovaClient, CinderClient]:
    """Build the two clients from ``[service_auth]``, ``[nova]``, ``[cinder]``.

    Nothing is contacted yet: Keystone is asked for a token at the first
    call, so a service started while Keystone is down still starts.
    """
    auth = ks_loading.load_auth_from_conf_options(conf, service_auth.GROUP)
    session = ks_loading.load_session_from_conf_options(
        conf, service_auth.GROUP, auth=auth)
    nova = ks_loading.load_adapter_from_conf_options(
        conf, 'nova', session=session, auth=auth)
    cinder = ks_loading.load_adapter_from_conf_options(
        conf, 'cinder', session=session, auth=auth)
    return (NovaClient(nova, conf.nova.metadata_write_timeout,
                       conf.nova.list_page_size),
            CinderClient(cinder))
