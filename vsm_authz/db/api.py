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

"""The database engine and the transaction helpers every query module uses.

Like placement's ``db_api.py``: engine setup only. The queries live with
the records they serve (:mod:`vsm_authz.db.expansions`,
:mod:`~vsm_authz.db.volumes`, :mod:`~vsm_authz.db.audit_log`,
:mod:`~vsm_authz.db.policy_overrides`); the ``[database]`` options are
registered by :mod:`vsm_authz.conf.database`.

Setup, once per process (``vsm-manage db sync`` creates the schema)::

    from vsm_authz.db import api as db_api
    db_api.configure(conf)          # reads [database]; default SQLite at
                                    # $state_path/vsm.sqlite
    # without configure(), the first query configures from cfg.CONF

A query module opens one short transaction per call and returns frozen
dataclass copies, never ORM objects::

    @db_api.retry
    def get_thing(thing_id):
        with db_api.reader() as session:
            row = session.get(models.Thing, thing_id)
            return None if row is None else db_api.copy(ThingRecord, row)

Deadlocks and lost connections are retried (:data:`retry`, oslo.db's
``wrap_db_retry``). SQLite is for a single process; run several workers
on MySQL/MariaDB (``mysql+pymysql://...``).
"""

import dataclasses
import threading

from oslo_config import cfg
from oslo_db import api as oslo_db_api
from oslo_db.sqlalchemy import enginefacade
from oslo_utils import timeutils
import sqlalchemy as sa

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


def writer():
    """A new write transaction: ``with writer() as session:``."""
    return _txn().writer.using(_Scope())


def reader():
    """A new read transaction: ``with reader() as session:``."""
    return _txn().reader.using(_Scope())


def get_engine():
    """The writer engine (migrations and tests use it)."""
    return _txn().writer.get_engine()


#: Decorator of every query: retries deadlocks and lost connections.
retry = oslo_db_api.wrap_db_retry(max_retries=5, retry_on_deadlock=True,
                                  retry_on_disconnect=True)


def newest_first(model, limit, conditions=(), **equal):
    """A SELECT of the ``model`` rows that meet ``conditions`` and whose
    columns equal every value of ``equal`` that is not None, newest
    (highest id) first, at most ``limit`` of them (None: all)."""
    conditions = list(conditions) + [getattr(model, column) == value
                                     for column, value in equal.items()
                                     if value is not None]
    query = sa.select(model)
    if conditions:
        query = query.where(*conditions)
    query = query.order_by(model.id.desc())
    return query if limit is None else query.limit(limit)


def now():
    """Naive UTC now, as the database stores times."""
    return timeutils.utcnow()


def copy(record_cls, row, **values):
    """A ``record_cls`` dataclass holding ``row``'s columns of the same
    names; ``values`` replace some (e.g. decoded)."""
    fields = {f.name: getattr(row, f.name)
              for f in dataclasses.fields(record_cls)}
    fields.update(values)
    return record_cls(**fields)
