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

"""What VSM remembers about a volume (``volumes``) and its grants.

A volume row is created by its first request
(:func:`vsm_authz.db.expansions.record_request`) and keeps the size Cinder
reported then and the highest request seq seen. The grants are the
volume's requests with ``granted_at`` set (a grant stays one if its extend
later fails, so failures still count against cooldowns and rate caps)::

    from vsm_authz.db import volumes

    volumes.original_size(volume_id)   # first-seen Cinder size, or None
    volumes.grant_history(volume_id)   # [rules.GrantRecord], oldest first
    volumes.get_volume(volume_id)      # VolumeRecord, or None
"""

import dataclasses
import datetime
import typing

import sqlalchemy as sa

from vsm_authz.db import api as db_api
from vsm_authz.db import models


@dataclasses.dataclass(frozen=True)
class VolumeRecord:
    """A copy of one ``volumes`` row."""

    volume_id: str
    project_id: str
    server_id: typing.Optional[str]
    original_size_gb: int
    highest_seq: int
    created_at: datetime.datetime
    updated_at: datetime.datetime


@db_api.retry
def get_volume(volume_id: str) -> typing.Optional[VolumeRecord]:
    """What VSM remembers about the volume (first-seen size, highest seq)."""
    with db_api.reader() as session:
        row = session.get(models.Volume, volume_id)
        return None if row is None else db_api.copy(VolumeRecord, row)


def original_size(volume_id: str) -> typing.Optional[int]:
    """The volume's Cinder size when VSM first saw it, or None."""
    volume = get_volume(volume_id)
    return None if volume is None else volume.original_size_gb


@db_api.retry
def grant_history(volume_id: str, since: typing.Optional[
        datetime.datetime] = None) -> list:
    """The volume's grants (granted at or after ``since``), oldest first,
    as :class:`vsm_authz.rules.GrantRecord`. Pass ``since=None`` to the
    decision engine: escalation counts over the whole history."""
    from vsm_authz import rules  # the rules import nothing from the DB

    query = sa.select(models.ExpansionRequest).where(
        models.ExpansionRequest.volume_id == volume_id,
        models.ExpansionRequest.granted_at.is_not(None))
    if since is not None:
        query = query.where(models.ExpansionRequest.granted_at >= since)
    query = query.order_by(models.ExpansionRequest.granted_at,
                           models.ExpansionRequest.id)
    with db_api.reader() as session:
        return [rules.GrantRecord(at=r.granted_at,
                                  from_gb=r.size_gb_at_request,
                                  to_gb=r.granted_gb,
                                  automatic=bool(r.automatic))
                for r in session.execute(query).scalars()]
