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

"""The state API of the control plane: requests, grants, audit, overrides.

Every function here is a plain module function that opens its own short
transaction (oslo.db enginefacade, writer or reader); none takes a
context or session and none returns ORM objects: results are frozen
dataclass copies (:class:`ExpansionRecord`, :class:`VolumeRecord`,
:class:`AuditRecord`, :class:`vsm_authz.rules.GrantRecord`), safe to pass
between threads and to keep after the transaction.

Setup, once per process (``vsm-manage db sync`` creates the schema)::

    from vsm_authz.db import api as db_api
    db_api.configure(conf)          # reads [database]; default SQLite at
                                    # $state_path/vsm.sqlite
    # without configure(), the first call configures from cfg.CONF

The request life cycle, as the pipeline drives it::

    rec, created = db_api.record_request(req, server_id, project_id,
                                         size_gb_at_request=cinder_size)
    # created=False: a duplicate notification, same (volume, request id)
    # StaleRequest: seq lower than one already seen for the volume
    # ReplayedRequest: same seq (or same id) seen with different content
    rec = db_api.transition(vol, rid, 'granted', granted_gb=12, reason='ok')
    rec = db_api.transition(vol, rid, 'extending')
    rec = db_api.transition(vol, rid, 'extended', final_size_gb=12)
    rec = db_api.transition(vol, rid, 'grown', final_size_gb=12)

States and the only moves allowed (:data:`TRANSITIONS`)::

    received ─┬─► pending ──┬─► granted ─┬─► extending ──► extended ──► grown
              │             ├─► denied   ├─► extended        └──► failed
              ├─► granted   └─► failed   └─► failed
              ├─► denied                  (extending ──► failed)
              └─► failed

:func:`transition` is a compare-and-set: the UPDATE only matches while the
row is in one of ``expected_states`` (default: every state that may lead
to ``new_state``), so when two workers race on one request exactly one
wins and the other gets :class:`InvalidTransition` carrying the state it
lost to. Granting from ``received`` marks the grant automatic; granting
from ``pending`` (a human approved it) marks it manual — escalation counts
on that.

A *grant* is a request with ``granted_at`` set (it stays a grant if the
extend later fails, so failures still count against cooldowns and rate
caps); :func:`grant_history` returns them oldest first.

Audit: :func:`audit` appends one row per event (``detail`` may be a dict,
stored as JSON); nothing ever updates or deletes audit rows.

Concurrency: ``(volume_id, request_id)`` is unique in the database, so
two workers recording the same request concurrently end with one row and
one ``created=True``. Deadlocks and lost connections are retried
(``oslo_db.api.wrap_db_retry``). SQLite is for a single process; run
several workers on MySQL/MariaDB (``mysql+pymysql://...``).
"""

import dataclasses
import datetime
import enum
import json
import threading
import typing

from oslo_config import cfg
from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import enginefacade
from oslo_utils import timeutils
import sqlalchemy as sa

from vsm_agent import protocol
from vsm_authz.db import models


class RecordState(str, enum.Enum):
    """The state of an expansion record. Members are the strings the
    database stores, and compare and hash like them."""

    RECEIVED = 'received'
    PENDING = 'pending'
    GRANTED = 'granted'
    EXTENDING = 'extending'
    EXTENDED = 'extended'
    GROWN = 'grown'
    DENIED = 'denied'
    FAILED = 'failed'

    __str__ = str.__str__
    __format__ = str.__format__
    __hash__ = str.__hash__


_S = RecordState
#: new states each state may move to.
TRANSITIONS = {
    _S.RECEIVED: frozenset({_S.PENDING, _S.GRANTED, _S.DENIED, _S.FAILED}),
    _S.PENDING: frozenset({_S.GRANTED, _S.DENIED, _S.FAILED}),
    _S.GRANTED: frozenset({_S.EXTENDING, _S.EXTENDED, _S.FAILED}),
    _S.EXTENDING: frozenset({_S.EXTENDED, _S.FAILED}),
    _S.EXTENDED: frozenset({_S.GROWN, _S.FAILED}),
    _S.GROWN: frozenset(),
    _S.DENIED: frozenset(),
    _S.FAILED: frozenset(),
}
STATES = frozenset(TRANSITIONS)
#: States nothing moves out of.
FINAL_STATES = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
#: A Cinder extend may have been started: crash recovery looks at these.
IN_FLIGHT_STATES = (RecordState.GRANTED, RecordState.EXTENDING)


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
    state: RecordState
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
        return self.state in FINAL_STATES


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


def _copy(record_cls, row):
    values = {f.name: getattr(row, f.name)
              for f in dataclasses.fields(record_cls)}
    if 'state' in values:
        values['state'] = RecordState(values['state'])
    return record_cls(**values)


# ------------------------------------------------------------- engine --

_LOCK = threading.Lock()
_TXN = None


class _Scope:
    """A throw-away context object: enginefacade keeps its per-thread
    transaction bookkeeping on it, so each API call is its own
    transaction."""


def _tune_sqlite(engine):
    """Make the SQLite default safe under threads and fast enough.

    - pysqlite begins lazily: a transaction that read first and writes
      later must upgrade its lock, and when another connection is writing
      SQLite fails at once with "database is locked" instead of waiting.
      ``BEGIN IMMEDIATE`` takes the write lock up front and waits
      (sqlite3's 5 s busy timeout) instead, at the price of serialising
      transactions — SQLite is the single-process default anyway.
    - oslo.db gives SQLite files a NullPool: a new connection, and with it
      a journal sync on close, for every transaction (~7 ms here). A small
      QueuePool keeps connections open (~0.3 ms per short transaction).
    - Write-ahead logging, see below.

    Keep ``$state_path`` on a local filesystem (WAL needs shared memory).
    """
    if engine.dialect.name != 'sqlite':
        return

    # oslo.db already turns pysqlite's implicit BEGIN off and emits its
    # own plain BEGIN at the start of each transaction: upgrade that one.
    @sa.event.listens_for(engine, 'before_cursor_execute', retval=True)
    def _begin_immediate(connection, cursor, statement, parameters,
                         context, executemany):
        if statement == 'BEGIN':
            statement = 'BEGIN IMMEDIATE'
        return statement, parameters

    if isinstance(engine.pool, sa.pool.NullPool):
        old = engine.pool
        # Same connection factory and the same listeners (oslo.db's
        # connect hooks), kept open between transactions.
        engine.pool = sa.pool.QueuePool(
            old._creator, pool_size=5, max_overflow=10, timeout=30,
            dialect=old._dialect, _dispatch=old.dispatch)

    @sa.event.listens_for(engine, 'connect')
    def _write_ahead_log(dbapi_connection, record):
        # Readers no longer block the writer, and a commit appends to the
        # log without an fsync (a power cut may lose the last commits,
        # never corrupt the file): ~1 ms instead of ~10 ms per commit.
        dbapi_connection.execute('PRAGMA journal_mode=WAL')
        dbapi_connection.execute('PRAGMA synchronous=NORMAL')


def configure(conf=None):
    """Point the API at ``conf``'s ``[database]`` (default: ``cfg.CONF``).

    May be called again (tests do, with another connection): the old
    engine is disposed of.
    """
    global _TXN
    conf = cfg.CONF if conf is None else conf
    db = conf.database
    txn = enginefacade.transaction_context()
    txn.configure(
        connection=db.connection,
        slave_connection=db.slave_connection,
        sqlite_fk=True,
        sqlite_synchronous=db.sqlite_synchronous,
        mysql_sql_mode=db.mysql_sql_mode,
        connection_recycle_time=db.connection_recycle_time,
        connection_debug=db.connection_debug,
        max_pool_size=db.max_pool_size,
        max_overflow=db.max_overflow,
        pool_timeout=db.pool_timeout,
        max_retries=db.max_retries,
        retry_interval=db.retry_interval,
        on_engine_create=[_tune_sqlite],
        # VSM does not run under eventlet: no sleep(0) per checkin.
        thread_checkin=False,
    )
    with _LOCK:
        old, _TXN = _TXN, txn
    if old is not None:
        try:
            old.dispose_pool()
        except Exception:  # never started: nothing to dispose of
            pass


def configure_reset():
    """Forget the configuration (the next call configures from
    ``cfg.CONF`` again) and close its connections. For tests."""
    global _TXN
    with _LOCK:
        old, _TXN = _TXN, None
    if old is not None:
        try:
            old.dispose_pool()
        except Exception:
            pass


def _txn():
    if _TXN is None:
        with _LOCK:
            needed = _TXN is None
        if needed:
            configure(cfg.CONF)
    return _TXN


def _writer():
    return _txn().writer.using(_Scope())


def _reader():
    return _txn().reader.using(_Scope())


def get_engine():
    """The writer engine (migrations and tests use it)."""
    return _txn().writer.get_engine()


_retry = oslo_db_api.wrap_db_retry(max_retries=5, retry_on_deadlock=True,
                                   retry_on_disconnect=True)


def _now():
    return timeutils.utcnow()


# ----------------------------------------------------------- requests --

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


@_retry
def _record_request(request, server_id, project_id, size_gb_at_request):
    now = _now()
    with _writer() as session:
        existing = session.execute(
            sa.select(models.ExpansionRequest).filter_by(
                volume_id=request.volume_id,
                request_id=request.request_id)).scalar_one_or_none()
        if existing is not None:
            if existing.seq != request.seq:
                raise ReplayedRequest(
                    request.volume_id, request.request_id, request.seq,
                    'request id already used with seq %d' % existing.seq)
            return _copy(ExpansionRecord, existing), False

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
            state=RecordState.RECEIVED.value,
            created_at=now, updated_at=now)
        session.add(row)
        session.flush()
        return _copy(ExpansionRecord, row), True


@_retry
def get_request(volume_id: str, request_id: str
                ) -> typing.Optional[ExpansionRecord]:
    """The request ``request_id`` of ``volume_id``, or None."""
    with _reader() as session:
        row = session.execute(
            sa.select(models.ExpansionRequest).filter_by(
                volume_id=volume_id, request_id=request_id)
        ).scalar_one_or_none()
        return None if row is None else _copy(ExpansionRecord, row)


@_retry
def latest_request(volume_id: str) -> typing.Optional[ExpansionRecord]:
    """The volume's request with the highest seq, or None."""
    with _reader() as session:
        row = session.execute(
            sa.select(models.ExpansionRequest)
            .filter_by(volume_id=volume_id)
            .order_by(models.ExpansionRequest.seq.desc()).limit(1)
        ).scalar_one_or_none()
        return None if row is None else _copy(ExpansionRecord, row)


def _predecessors(new_state):
    return tuple(sorted(s for s, nxt in TRANSITIONS.items()
                        if new_state in nxt))


@_retry
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

    :raises ValueError: unknown state, or a move :data:`TRANSITIONS`
        forbids.
    :raises RequestNotFound: no such request.
    :raises InvalidTransition: the row was not in ``expected_states``.
    """
    if new_state not in STATES:
        raise ValueError('unknown request state %r (one of %s)'
                         % (new_state, ', '.join(sorted(STATES))))
    allowed = _predecessors(new_state)
    if expected_states is None:
        expected = allowed
    else:
        expected = tuple(expected_states)
        bad = [s for s in expected if s not in allowed]
        if bad:
            raise ValueError('a request cannot move from %s to %s'
                             % ('/'.join(bad), new_state))
    table = models.ExpansionRequest.__table__
    now = _now()
    new_state = RecordState(new_state)
    values = {'state': new_state.value, 'updated_at': now}
    for name, value in (('reason', reason), ('message', message),
                        ('granted_gb', granted_gb),
                        ('final_size_gb', final_size_gb),
                        ('retry_after', retry_after)):
        if value is not None:
            values[name] = value
    if message is not None:
        values['message'] = message[:1024]
    if new_state == RecordState.GRANTED:
        values['granted_at'] = now
        # Evaluated on the old row: a grant out of 'pending' was approved
        # by a human.
        values['automatic'] = sa.case(
            (table.c.state == RecordState.PENDING.value, False), else_=True)
    with _writer() as session:
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
        return _copy(ExpansionRecord, row)


def _as_cutoff(older_than):
    if older_than is None or isinstance(older_than, datetime.datetime):
        return older_than
    return _now() - datetime.timedelta(seconds=float(older_than))


@_retry
def in_flight(older_than=None, states=IN_FLIGHT_STATES
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
    with _reader() as session:
        rows = session.execute(
            query.order_by(models.ExpansionRequest.updated_at)).scalars()
        return [_copy(ExpansionRecord, r) for r in rows]


@_retry
def list_requests(volume_id=None, project_id=None, server_id=None,
                  state=None, since=None, limit=100
                  ) -> typing.List[ExpansionRecord]:
    """Requests matching every given filter, newest first.

    ``state`` may be one state or a list; ``since`` a naive-UTC datetime
    (created at or after); ``limit`` None for all.
    """
    query = sa.select(models.ExpansionRequest)
    for column, value in (('volume_id', volume_id),
                          ('project_id', project_id),
                          ('server_id', server_id)):
        if value is not None:
            query = query.where(
                getattr(models.ExpansionRequest, column) == value)
    if state is not None:
        states = (state,) if isinstance(state, str) else tuple(state)
        query = query.where(models.ExpansionRequest.state.in_(
            [str(s) for s in states]))
    if since is not None:
        query = query.where(models.ExpansionRequest.created_at >= since)
    query = query.order_by(models.ExpansionRequest.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with _reader() as session:
        return [_copy(ExpansionRecord, r)
                for r in session.execute(query).scalars()]


# ------------------------------------------------------------ volumes --

@_retry
def get_volume(volume_id: str) -> typing.Optional[VolumeRecord]:
    """What VSM remembers about the volume (first-seen size, highest seq)."""
    with _reader() as session:
        row = session.get(models.Volume, volume_id)
        return None if row is None else _copy(VolumeRecord, row)


def original_size(volume_id: str) -> typing.Optional[int]:
    """The volume's Cinder size when VSM first saw it, or None."""
    volume = get_volume(volume_id)
    return None if volume is None else volume.original_size_gb


@_retry
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
    with _reader() as session:
        return [rules.GrantRecord(at=r.granted_at,
                                  from_gb=r.size_gb_at_request,
                                  to_gb=r.granted_gb,
                                  automatic=bool(r.automatic))
                for r in session.execute(query).scalars()]


# -------------------------------------------------------------- audit --

@_retry
def audit(event: str, *, request_id=None, volume_id=None, server_id=None,
          project_id=None, reason=None, detail=None) -> None:
    """Append one event to the audit trail.

    ``event`` is a short dotted name (``request.denied``,
    ``extend.failed``…); ``reason`` a protocol reason code; ``detail`` a
    string or anything JSON-serialisable.
    """
    if detail is not None and not isinstance(detail, str):
        detail = json.dumps(detail, sort_keys=True, default=str)
    with _writer() as session:
        session.add(models.AuditEntry(
            at=_now(), event=event[:64], request_id=request_id,
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


@_retry
def list_audit(volume_id=None, project_id=None, server_id=None,
               request_id=None, event=None, since=None, limit=100
               ) -> typing.List[AuditRecord]:
    """Audit entries matching every given filter, newest first."""
    query = sa.select(models.AuditEntry)
    for column, value in (('volume_id', volume_id),
                          ('project_id', project_id),
                          ('server_id', server_id),
                          ('request_id', request_id), ('event', event)):
        if value is not None:
            query = query.where(getattr(models.AuditEntry, column) == value)
    if since is not None:
        query = query.where(models.AuditEntry.at >= since)
    query = query.order_by(models.AuditEntry.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with _reader() as session:
        return [dataclasses.replace(_copy(AuditRecord, r),
                                    detail=_decode(r.detail))
                for r in session.execute(query).scalars()]


# ---------------------------------------------------- policy overrides --

@_retry
def get_policy_overrides(project_id: str) -> dict:
    """The project's stored policy overrides (``{}`` when none)."""
    with _reader() as session:
        row = session.get(models.PolicyOverride, project_id)
        return {} if row is None else json.loads(row.overrides)


@_retry
def set_policy_overrides(project_id: str, overrides: dict) -> None:
    """Replace the project's overrides; ``{}`` removes them. Validate with
    :func:`vsm_authz.expansion_policy.validate_overrides` first."""
    with _writer() as session:
        row = session.get(models.PolicyOverride, project_id)
        if not overrides:
            if row is not None:
                session.delete(row)
            return
        text = json.dumps(overrides, sort_keys=True)
        if row is None:
            session.add(models.PolicyOverride(
                project_id=project_id, overrides=text, updated_at=_now()))
        else:
            row.overrides, row.updated_at = text, _now()


@_retry
def list_policy_overrides() -> typing.Dict[str, dict]:
    """``{project_id: overrides}`` for every project that has some."""
    with _reader() as session:
        return {r.project_id: json.loads(r.overrides)
                for r in session.execute(
                    sa.select(models.PolicyOverride)).scalars()}
