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

"""The audit trail (``audit_log``): one row per event, append-only.

:class:`vsm_authz.audit.Trail` writes the pipeline's events through
:func:`audit`; ``vsm-manage`` writes the operator's and shows them::

    from vsm_authz.db import audit_log

    audit_log.audit('request.denied', request_id=rid, volume_id=vol,
                    reason='quota', detail={'size': 10})
    audit_log.list_audit(volume_id=vol, limit=20)   # newest first

``detail`` may be a string or anything JSON-serialisable (stored as JSON,
decoded again by :func:`list_audit`); nothing ever updates or deletes an
audit row.
"""

import dataclasses
import datetime
import json
import typing

from vsm_authz.db import api as db_api
from vsm_authz.db import models


@dataclasses.dataclass(frozen=True)
class AuditRecord:
    """A copy of one ``audit_log`` row (``detail`` decoded when JSON)."""

    id: int
    at: datetime.datetime
    event: str
    request_id: typing.Optional[str]
    volume_id: typing.Optional[str]
    server_id: typing.Optional[str]
    project_id: typing.Optional[str]
    reason: typing.Optional[str]
    detail: typing.Any


@db_api.retry
def audit(event: str, *, request_id=None, volume_id=None, server_id=None,
          project_id=None, reason=None, detail=None) -> None:
    """Append one event to the audit trail.

    ``event`` is a short dotted name (``request.denied``,
    ``extend.failed``…); ``reason`` a protocol reason code; ``detail`` a
    string or anything JSON-serialisable.
    """
    if detail is not None and not isinstance(detail, str):
        detail = json.dumps(detail, sort_keys=True, default=str)
    with db_api.writer() as session:
        session.add(models.AuditEntry(
            at=db_api.now(), event=event[:64], request_id=request_id,
            volume_id=volume_id, server_id=server_id,
            project_id=project_id,
            reason=None if reason is None else reason[:24], detail=detail))


def _decode(detail):
    if detail is None:
        return None
    try:
        return json.loads(detail)
    except ValueError:
        return detail


@db_api.retry
def list_audit(volume_id=None, project_id=None, server_id=None,
               request_id=None, event=None, since=None, limit=100
               ) -> typing.List[AuditRecord]:
    """Audit entries matching every given filter, newest first."""
    query = db_api.newest_first(
        models.AuditEntry, limit,
        () if since is None else (models.AuditEntry.at >= since,),
        volume_id=volume_id, project_id=project_id, server_id=server_id,
        request_id=request_id, event=event)
    with db_api.reader() as session:
        return [db_api.copy(AuditRecord, r, detail=_decode(r.detail))
                for r in session.execute(query).scalars()]
