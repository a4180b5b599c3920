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

"""Expansion requests (``expansion_requests``): recording and moving them.

Every function opens its own short transaction and returns
:class:`ExpansionRecord` copies, safe to pass between threads. The life
cycle, as :mod:`vsm_authz.pipeline` and :mod:`vsm_authz.drive` run it::

    from vsm_authz.db import expansions

    rec, created = expansions.record_request(req, server_id, project_id,
                                             size_gb_at_request=cinder_size)
    # created=False: a duplicate notification, same (volume, request id)
    # StaleRequest: seq lower than one already seen for the volume
    # ReplayedRequest: same seq (or same id) seen with different content
    rec = expansions.transition(vol, rid, 'granted', granted_gb=12,
                                reason='ok')
    rec = expansions.transition(vol, rid, 'extending')
    rec = expansions.transition(vol, rid, 'extended', final_size_gb=12)
    rec = expansions.transition(vol, rid, 'grown', final_size_gb=12)

The states and the moves allowed are :mod:`vsm_authz.db.states`.
:func:`transition` is a compare-and-set: the UPDATE only matches while the
row is in one of ``expected_states`` (default: every state that may lead
to ``new_state``), so when two workers race on one request exactly one
wins and the other gets :class:`InvalidTransition` carrying the state it
lost to. Granting from ``received`` marks the grant automatic; granting
from ``pending`` (a human approved it) marks it manual — escalation counts
on that.

Concurrency: ``(volume_id, request_id)`` is unique in the database, so
two workers recording the same request concurrently end with one row and
one ``created=True``.
"""

import dataclasses
import datetime
import typing

from oslo_db import exception as db_exc
import sqlalchemy as sa

from vsm_agent import protocol
from vsm_authz.db import api as db_api
from vsm_authz.db import models
from vsm_authz.db import states


class StaleRequest(Exception):
    """The request's seq is lower than one already seen for the volume."""

    def __init__(self, volume_id, seq, highest_seq):
        self.volume_id, self.seq, self.highest_seq = volume_id, seq, highest_seq
        super().__init__('volume %s: request seq %d is stale (seq %d was '
                         'already seen)' % (volume_id, seq, highest_seq))


class ReplayedRequest(Exception):
    """A seq already used by another request id (or an id reused with
    another seq): a replay or a forgery."""

    def __init__(self, volume_id, request_id, seq, message):
        self.volume_id, self.request_id, self.seq = volume_id, request_id, seq
        super().__init__('volume %s request %s seq %d: %s'
                         % (volume_id, request_id, seq, message))


class RequestNotFound(Exception):
    """No request with that (volume_id, request_id)."""

    def __init__(self, volume_id, request_id):
        self.volume_id, self.request_id = volume_id, request_id
        super().__init__('no request %s for volume %s'
                         % (request_id, volume_id))


class InvalidTransition(Exception):
    """The request was not in an expected state (another worker moved it,
    or the move is not allowed). ``current_state`` says where it is."""

    def __init__(self, volume_id, request_id, current_state, new_state,
                 expected_states):
        self.volume_id, self.request_id = volume_id, request_id
        self.current_state, self.new_state = current_state, new_state
        self.expected_states = tuple(expected_states)
        super().__init__('request %s of volume %s is %s; cannot move it to '
                         '%s (expected one of %s)'
                         % (request_id, volume_id, current_state, new_state,
                            ', '.join(sorted(self.expected_states))))


@dataclasses.dataclass(frozen=True)
class ExpansionRecord:
    """A copy of one ``expansion_requests`` row."""

    id: int
    volume_id: str
    request_id: str
    seq: int
    server_id: str
    project_id: str
    guest_current_gb: int
    requested_gb: int
    request_reason: str
    request_timestamp: int
    size_gb_at_request: int
    state: states.RecordState
    reason: typing.Optional[str]
    message: typing.Optional[str]
    retry_after: typing.Optional[int]
    granted_gb: typing.Optional[int]
    granted_at: typing.Optional[datetime.datetime]
    automatic: typing.Optional[bool]
    final_size_gb: typing.Optional[int]
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @property
    def final(self) -> bool:
        return self.state in states.FINAL_STATES


def _record(row) -> ExpansionRecord:
    return db_api.copy(ExpansionRecord, row,
                       state=states.RecordState(row.state))


def record_request(request: protocol.ExpansionRequest, server_id: str,
                   project_id: str, size_gb_at_request: int
                   ) -> typing.Tuple[ExpansionRecord, bool]:
    """Store a guest request once; return ``(record, created)``.

    Idempotent on ``(volume_id, request_id)``: a duplicate notification
    returns the existing record with ``created=False`` (whatever state it
    reached). The volume's first-seen size is set from
    ``size_gb_at_request`` (Cinder's real size) on its first request.

    :raises StaleRequest: ``request.seq`` is lower than the highest seq
        seen for the volume.
    :raises ReplayedRequest: the seq was already used by another request
        id, or the id was already used with another seq.
    """
    try:
        return _record_request(request, server_id, project_id,
                               size_gb_at_request)
    except db_exc.DBDuplicateEntry:
        # Another worker inserted the same request (or created the volume
        # row) between our read and our insert: the retry sees its row.
        return _record_request(request, server_id, project_id,
                               size_gb_at_request)


@db_api.retry
def _record_request(request, server_id, project_id, size_gb_at_request):
    now = db_api.now()
    with db_api.writer() as session:
        existing = session.execute(
            sa.select(models.ExpansionRequest).filter_by(
                volume_id=request.volume_id,
                request_id=request.request_id)).scalar_one_or_none()
        if existing is not None:
            if existing.seq != request.seq:
                raise ReplayedRequest(
                    request.volume_id, request.request_id, request.seq,
                    'request id already used with seq %d' % existing.seq)
            return _record(existing), False

        volume = session.get(models.Volume, request.volume_id)
        if volume is None:
            volume = models.Volume(
                volume_id=request.volume_id, project_id=project_id,
                server_id=server_id, original_size_gb=size_gb_at_request,
                highest_seq=0, created_at=now, updated_at=now)
            session.add(volume)
        elif request.seq < volume.highest_seq:
            raise StaleRequest(request.volume_id, request.seq,
                               volume.highest_seq)
        elif request.seq == volume.highest_seq:
            raise ReplayedRequest(
                request.volume_id, request.request_id, request.seq,
                'seq already used by another request id')
        volume.highest_seq = request.seq
        volume.server_id = server_id
        volume.updated_at = now

        row = models.ExpansionRequest(
            volume_id=request.volume_id, request_id=request.request_id,
            seq=request.seq, server_id=server_id, project_id=project_id,
            guest_current_gb=request.current_gb,
            requested_gb=request.requested_gb,
            request_reason=request.reason,
            request_timestamp=request.timestamp,
            size_gb_at_request=size_gb_at_request,
            state=states.RecordState.RECEIVED.value,
            created_at=now, updated_at=now)
        session.add(row)
        session.flush()
        return _record(row), True


@db_api.retry
def get_request(volume_id: str, request_id: str
                ) -> typing.Optional[ExpansionRecord]:
    """The request ``request_id`` of ``volume_id``, or None."""
    with db_api.reader() as session:
        row = session.execute(
            sa.select(models.ExpansionRequest).filter_by(
                volume_id=volume_id, request_id=request_id)
        ).scalar_one_or_none()
        return None if row is None else _record(row)


@db_api.retry
def latest_request(volume_id: str) -> typing.Optional[ExpansionRecord]:
    """The volume's request with the highest seq, or None."""
    with db_api.reader() as session:
        row = session.execute(
            sa.select(models.ExpansionRequest)
            .filter_by(volume_id=volume_id)
            .order_by(models.ExpansionRequest.seq.desc()).limit(1)
        ).scalar_one_or_none()
        return None if row is None else _record(row)


@db_api.retry
def transition(volume_id: str, request_id: str, new_state: str, *,
               expected_states: typing.Optional[typing.Iterable[str]] = None,
               reason: typing.Optional[str] = None,
               message: typing.Optional[str] = None,
               granted_gb: typing.Optional[int] = None,
               final_size_gb: typing.Optional[int] = None,
               retry_after: typing.Optional[int] = None) -> ExpansionRecord:
    """Move a request to ``new_state`` if it is in ``expected_states``.

    ``expected_states`` defaults to every state allowed to lead to
    ``new_state``; a narrower set is the caller's compare-and-set
    condition (e.g. ``('granted',)`` when only the granting worker may
    start the extend). Fields given as None are left unchanged.

    :raises ValueError: unknown state, or a move :data:`~vsm_authz.db.states.TRANSITIONS`
        forbids.
    :raises RequestNotFound: no such request.
    :raises InvalidTransition: the row was not in ``expected_states``.
    """
    if new_state not in states.STATES:
        raise ValueError('unknown request state %r (one of %s)'
                         % (new_state, ', '.join(sorted(states.STATES))))
    allowed = states.predecessors(new_state)
    if expected_states is None:
        expected = allowed
    else:
        expected = tuple(expected_states)
        bad = [s for s in expected if s not in allowed]
        if bad:
            raise ValueError('a request cannot move from %s to %s'
                             % ('/'.join(bad), new_state))
    table = models.ExpansionRequest.__table__
    now = db_api.now()
    new_state = states.RecordState(new_state)
    values = {'state': new_state.value, 'updated_at': now}
    for name, value in (('reason', reason), ('message', message),
                        ('granted_gb', granted_gb),
                        ('final_size_gb', final_size_gb),
                        ('retry_after', retry_after)):
        if value is not None:
            values[name] = value
    if message is not None:
        values['message'] = message[:1024]
    if new_state == states.RecordState.GRANTED:
        values['granted_at'] = now
        # Evaluated on the old row: a grant out of 'pending' was approved
        # by a human.
        values['automatic'] = sa.case(
            (table.c.state == states.RecordState.PENDING.value, False), else_=True)
    with db_api.writer() as session:
        result = session.execute(
            table.update()
            .where(table.c.volume_id == volume_id,
                   table.c.request_id == request_id,
                   table.c.state.in_([str(s) for s in expected]))
            .values(**values))
        row = session.execute(
            sa.select(models.ExpansionRequest).filter_by(
                volume_id=volume_id, request_id=request_id)
        ).scalar_one_or_none()
        if row is None:
            raise RequestNotFound(volume_id, request_id)
        if result.rowcount != 1:
            raise InvalidTransition(volume_id, request_id, row.state,
                                    new_state, expected)
        session.refresh(row)
        return _record(row)


def _as_cutoff(older_than):
    if older_than is None or isinstance(older_than, datetime.datetime):
        return older_than
    return db_api.now() - datetime.timedelta(seconds=float(older_than))


@db_api.retry
def in_flight(older_than=None, states=states.IN_FLIGHT_STATES
              ) -> typing.List[ExpansionRecord]:
    """Requests whose extend may be under way (``granted``/``extending``).

    :param older_than: only those not updated since then: a naive-UTC
        datetime, or a number of seconds before now.
    :param states: override the states (e.g. add ``'received'`` to find
        requests a crashed worker never decided).
    """
    cutoff = _as_cutoff(older_than)
    query = sa.select(models.ExpansionRequest).where(
        models.ExpansionRequest.state.in_([str(s) for s in states]))
    if cutoff is not None:
        query = query.where(models.ExpansionRequest.updated_at < cutoff)
    with db_api.reader() as session:
        rows = session.execute(
            query.order_by(models.ExpansionRequest.updated_at)).scalars()
        return [_record(r) for r in rows]


@db_api.retry
def list_requests(volume_id=None, project_id=None, server_id=None,
                  state=None, since=None, limit=100
                  ) -> typing.List[ExpansionRecord]:
    """Requests matching every given filter, newest first.

    ``state`` may be one state or a list; ``since`` a naive-UTC datetime
    (created at or after); ``limit`` None for all.
    """
    conditions = []
    if state is not None:
        wanted = (state,) if isinstance(state, str) else tuple(state)
        conditions.append(models.ExpansionRequest.state.in_(
            [str(s) for s in wanted]))
    if since is not None:
        conditions.append(models.ExpansionRequest.created_at >= since)
    query = db_api.newest_first(
        models.ExpansionRequest, limit, conditions, volume_id=volume_id,
        project_id=project_id, server_id=server_id)
    with db_api.reader() as session:
        return [_record(r) for r in session.execute(query).scalars()]
