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

"""Checks a guest request against the facts in Nova and Cinder.

The guest is untrusted: everything it wrote is a claim. This module turns
a claim into facts or a :class:`Rejection`, reading only the clouds (never
the notification, which may be stale or forged by nobody but is still
just a copy)::

    from vsm_authz import validation

    checker = validation.Validator(conf, nova, cinder)
    server = checker.server(server_id, notified_project_id)   # ServerFacts
    volume = checker.volume(server, request)                  # VolumeFacts

Each check raises :class:`Rejection` with a protocol reason code. The
``answerable`` flag says whether the service may write ``vsm:resp:`` for
the volume: only when the volume really is attached to that server in the
server's project, so a forged key can never make VSM write about (or
record anything under) someone else's volume.

Checks, in order:

1. the server exists in Nova and belongs to the project the notification
   named (``server_gone`` / ``project_mismatch``, not answerable);
2. the volume is attached to this server according to **both** Nova
   (``os-volume_attachments``) and Cinder (``attachments``), and Cinder
   says it belongs to the same project (``not_attached``, not answerable);
3. Cinder status is ``in-use`` (``not_in_use``);
4. the back end can extend attached volumes (``no_online_extend``): the
   pool capability ``online_extend_support`` from ``scheduler-stats``
   when reported, else the volume type extra spec of the same name, else
   :oslo.config:option:`validation.no_online_extend_backends`; when all
   are silent the extend is attempted and its failure handled;
5. the request asks for more than Cinder's real size (``size_mismatch``).
"""

import dataclasses
import logging
import threading
import time
import typing

from oslo_config import cfg
from oslo_utils import strutils

from vsm_agent import protocol
from vsm_authz import clouds

LOG = logging.getLogger(__name__)

validation_opts = [
    cfg.ListOpt('no_online_extend_backends', default=[],
                help='Cinder back ends (volume_backend_name, or the '
                     'host@backend part of the volume host) known not to '
                     'extend attached volumes, for back ends that do not '
                     'report the online_extend_support capability (e.g. '
                     'the NFS driver). Requests for their volumes are '
                     'denied with reason no_online_extend.'),
    cfg.IntOpt('capability_cache_seconds', default=300, min=0,
               help='How long the Cinder pool capabilities and volume '
                    'type extra specs are cached.'),
]

SERVER_GONE = 'server_gone'
PROJECT_MISMATCH = 'project_mismatch'


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(validation_opts, group='validation')


def list_opts():
    return [('validation', validation_opts)]


class Rejection(Exception):
    """The request cannot be granted.

    :ivar reason: protocol reason code (audit log, ``vsm:resp:``).
    :ivar answerable: True if ``vsm:resp:`` may be written for the volume.
    """

    def __init__(self, reason: str, message: str, answerable: bool,
                 size_gb: typing.Optional[int] = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.answerable = answerable
        #: Cinder's real size, when known (the size a denial reports).
        self.size_gb = size_gb


@dataclasses.dataclass
class ServerFacts:
    """A server as Nova describes it now."""

    server_id: str
    project_id: str
    metadata: typing.Dict[str, str]
    #: Volume ids from os-volume_attachments, fetched on first use.
    _attached: typing.Optional[typing.Set[str]] = None


@dataclasses.dataclass
class CinderVolume:
    """The Cinder facts about one volume the validator checked."""

    volume_id: str
    project_id: str
    server_id: str
    size_gb: int
    status: str
    volume_type: typing.Optional[str]
    host: typing.Optional[str]


class Validator:
    """Runs the checks above; holds small caches of Cinder capabilities."""

    def __init__(self, conf: cfg.ConfigOpts, nova: clouds.NovaClient,
                 cinder: clouds.CinderClient):
        self.nova = nova
        self.cinder = cinder
        self.no_online_extend = set(conf.validation.no_online_extend_backends)
        self.cache_seconds = conf.validation.capability_cache_seconds
        self._lock = threading.Lock()
        self._pools: typing.Optional[typing.Dict[str, dict]] = None
        self._pools_at = 0.0
        self._pools_forbidden = False
        self._types: typing.Dict[str, typing.Tuple[float, dict]] = {}

    # ------------------------------------------------------------ server --

    def server(self, server_id: str,
               notified_project_id: typing.Optional[str]) -> ServerFacts:
        """Re-read the server from Nova; reject if gone or moved."""
        server = self.nova.get_server(server_id)
        if server is None:
            raise Rejection(SERVER_GONE, 'server %s does not exist'
                            % server_id, answerable=False)
        project_id = server.get('tenant_id')
        if notified_project_id and project_id != notified_project_id:
            raise Rejection(PROJECT_MISMATCH,
                            'server %s belongs to project %s, the '
                            'notification said %s'
                            % (server_id, project_id, notified_project_id),
                            answerable=False)
        return ServerFacts(server_id=server_id, project_id=project_id,
                           metadata=dict(server.get('metadata') or {}))

    def attached_volume_ids(self, server: ServerFacts) -> typing.Set[str]:
        if server._attached is None:
            server._attached = self.nova.attached_volume_ids(server.server_id)
        return server._attached

    def is_attached(self, server: ServerFacts, volume_id: str) -> bool:
        """Nova's view only: enough to decide whether a *protocol error*
        may be answered (nothing is extended on that path)."""
        return volume_id in self.attached_volume_ids(server)

    # ------------------------------------------------------------ volume --

    def volume(self, server: ServerFacts, volume_id: str) -> CinderVolume:
        """Check the volume is this server's, in-use and extendable online.

        Reads the volume from Cinder every time (its size and status are
        what the decision rests on).
        """
        if volume_id not in self.attached_volume_ids(server):
            raise Rejection(protocol.Reason.NOT_ATTACHED,
                            'volume %s is not attached to server %s (Nova)'
                            % (volume_id, server.server_id), answerable=False)
        volume = self.cinder.get_volume(volume_id)
        if volume is None:
            raise Rejection(protocol.Reason.NOT_ATTACHED,
                            'volume %s does not exist in Cinder' % volume_id,
                            answerable=False)
        owner = clouds.volume_project(volume)
        if owner != server.project_id:
            raise Rejection(protocol.Reason.NOT_ATTACHED,
                            'volume %s belongs to project %s, server %s to '
                            '%s' % (volume_id, owner, server.server_id,
                                    server.project_id), answerable=False)
        if server.server_id not in clouds.volume_attached_servers(volume):
            raise Rejection(protocol.Reason.NOT_ATTACHED,
                            'Cinder does not show volume %s attached to '
                            'server %s' % (volume_id, server.server_id),
                            answerable=False)
        facts = CinderVolume(
            volume_id=volume_id, project_id=owner, server_id=server.server_id,
            size_gb=int(volume['size']), status=volume.get('status'),
            volume_type=volume.get('volume_type'),
            host=volume.get('os-vol-host-attr:host'))
        self.check_extendable(facts)
        return facts

    def check_extendable(self, volume: CinderVolume) -> None:
        """Status and back-end checks on a freshly read volume."""
        if volume.status != 'in-use':
            raise Rejection(protocol.Reason.NOT_IN_USE,
                            'volume %s is %s, not in-use'
                            % (volume.volume_id, volume.status),
                            answerable=True, size_gb=volume.size_gb)
        if self.online_extend_support(volume) is False:
            raise Rejection(protocol.Reason.NO_ONLINE_EXTEND,
                            'the back end of volume %s (%s) cannot extend '
                            'attached volumes' % (volume.volume_id,
                                                  volume.host),
                            answerable=True, size_gb=volume.size_gb)

    @staticmethod
    def check_size(request: protocol.ExpansionRequest,
                   volume: CinderVolume) -> None:
        """Size only grows, and only from Cinder's real size."""
        if request.requested_gb <= volume.size_gb:
            raise Rejection(protocol.Reason.SIZE_MISMATCH,
                            'request %s wants %d GB but volume %s already '
                            'has %d GB in Cinder'
                            % (request.request_id, request.requested_gb,
                               volume.volume_id, volume.size_gb),
                            answerable=True, size_gb=volume.size_gb)

    # ------------------------------------------------------ capabilities --

    def online_extend_support(self, volume: CinderVolume
                              ) -> typing.Optional[bool]:
        """True / False when known, None when nobody says."""
        pool = self._pool(volume.host)
        if pool is not None:
            value = pool.get('capabilities', {}).get('online_extend_support')
            if value is not None:
                return strutils.bool_from_string(value)
        backend_names = set()
        if volume.host:
            backend_names.add(volume.host.split('#')[0])
            backend_names.add(volume.host.split('#')[0].split('@')[-1])
        if pool is not None:
            name = pool.get('capabilities', {}).get('volume_backend_name')
            if name:
                backend_names.add(name)
        vtype = self._volume_type(volume.volume_type)
        if vtype is not None:
            specs = vtype.get('extra_specs') or {}
            for key in ('online_extend_support',
                        'capabilities:online_extend_support'):
                if key in specs:
                    return strutils.bool_from_string(
                        str(specs[key]).replace('<is>', '').strip())
            if specs.get('volume_backend_name'):
                backend_names.add(specs['volume_backend_name'])
        if backend_names & self.no_online_extend:
            return False
        return None

    def _pool(self, host: typing.Optional[str]) -> typing.Optional[dict]:
        if not host or self._pools_forbidden:
            return None
        with self._lock:
            if (self._pools is None
                    or time.monotonic() - self._pools_at > self.cache_seconds):
                try:
                    self._pools = {p['name']: p for p in self.cinder.pools()}
                except clouds.CloudUnavailable:
                    raise
                except clouds.CloudError as exc:
                    # Not an admin: fall back to type specs and config.
                    LOG.info('Cannot read Cinder pools (%s); using volume '
                             'type extra specs and configuration', exc)
                    self._pools_forbidden = True
                    return None
                self._pools_at = time.monotonic()
            return self._pools.get(host)

    def _volume_type(self, name: typing.Optional[str]
                     ) -> typing.Optional[dict]:
        if not name:
            return None
        with self._lock:
            cached = self._types.get(name)
            if cached and time.monotonic() - cached[0] <= self.cache_seconds:
                return cached[1]
        try:
            vtype = self.cinder.volume_type(name)
        except clouds.CloudUnavailable:
            raise
        except clouds.CloudError as exc:
            LOG.debug('Cannot read volume type %s: %s', name, exc)
            vtype = None
        with self._lock:
            self._types[name] = (time.monotonic(), vtype)
        return vtype
