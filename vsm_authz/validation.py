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

"""Decides whether VSM may answer a guest's request at all.

The guest is untrusted: everything it wrote is a claim. Before VSM records
a request or writes ``vsm:resp:``, it makes sure that the volume really is
attached to that server in the server's project, so a forged key can never
make VSM write about (or record anything under) someone else's volume.
Only the clouds are read, never the notification (a copy, maybe stale)::

    from vsm_authz import validation

    checker = validation.Validator(nova)
    server = checker.server(server_id, notified_project_id)  # ServerFacts
    checker.check_attached(server, volume_id)                # Nova's view
    # ... under the volume and project locks, after the one Cinder read:
    validation.check_cinder_volume(server, volume_id, volume)

Each check raises :class:`Rejection` (``answerable`` False) with a reason:

1. the server exists in Nova and belongs to the project the notification
   named (``server_gone`` / ``project_mismatch``);
2. the volume is attached to this server according to Nova
   (``os-volume_attachments``) — before the locks;
3. ... and according to Cinder (``attachments``), which also says it
   belongs to the same project (``not_attached``) — on the volume read
   once under the locks (:mod:`vsm_authz.facts`).

Whether the request can be granted (status ``in-use``, online extend,
size) is the decision engine's business (:mod:`vsm_authz.rules`).
"""

import dataclasses
import typing

from vsm_agent import protocol
from vsm_authz import clients

SERVER_GONE = 'server_gone'
PROJECT_MISMATCH = 'project_mismatch'


class Rejection(Exception):
    """VSM must neither record nor answer this request.

    :ivar reason: protocol reason code (audit log).
    """

    #: ``vsm:resp:`` may not be written for the volume.
    answerable = False

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclasses.dataclass
class ServerFacts:
    """A server as Nova describes it now."""

    server_id: str
    project_id: str
    metadata: typing.Dict[str, str]
    #: Volume ids from os-volume_attachments, fetched on first use.
    _attached: typing.Optional[typing.Set[str]] = None


class Validator:
    """The ownership checks against Nova."""

    def __init__(self, nova: clients.NovaClient):
        self.nova = nova

    def server(self, server_id: str,
               notified_project_id: typing.Optional[str]) -> ServerFacts:
        """Re-read the server from Nova; reject if gone or moved."""
        server = self.nova.get_server(server_id)
        if server is None:
            raise Rejection(SERVER_GONE, 'server %s does not exist'
                            % server_id)
        project_id = server.get('tenant_id')
        if notified_project_id and project_id != notified_project_id:
            raise Rejection(PROJECT_MISMATCH,
                            'server %s belongs to project %s, the '
                            'notification said %s'
                            % (server_id, project_id, notified_project_id))
        return ServerFacts(server_id=server_id, project_id=project_id,
                           metadata=dict(server.get('metadata') or {}))

    def is_attached(self, server: ServerFacts, volume_id: str) -> bool:
        """Nova's view (read once per server and pass)."""
        if server._attached is None:
            server._attached = self.nova.attached_volume_ids(server.server_id)
        return volume_id in server._attached

    def check_attached(self, server: ServerFacts, volume_id: str) -> None:
        if not self.is_attached(server, volume_id):
            raise Rejection(protocol.Reason.NOT_ATTACHED,
                            'volume %s is not attached to server %s (Nova)'
                            % (volume_id, server.server_id))


def check_cinder_volume(server_id: str, project_id: str, volume_id: str,
                        volume: typing.Optional[dict]) -> None:
    """Cinder's view of the same: the volume exists, belongs to the
    server's project and is attached to the server."""
    if volume is None:
        raise Rejection(protocol.Reason.NOT_ATTACHED,
                        'volume %s does not exist in Cinder' % volume_id)
    owner = clients.volume_project(volume)
    if owner != project_id:
        raise Rejection(protocol.Reason.NOT_ATTACHED,
                        'volume %s belongs to project %s, server %s to %s'
                        % (volume_id, owner, server_id, project_id))
    if server_id not in clients.volume_attached_servers(volume):
        raise Rejection(protocol.Reason.NOT_ATTACHED,
                        'Cinder does not show volume %s attached to server '
                        '%s' % (volume_id, server_id))
