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

"""Periodic catch-up against the Nova API: what notifications missed.

Notifications can be lost (broker restart, a worker killed between ack
and work, Nova configured late) and metadata writes can be lost (Nova's
merge races with the guest's writes). One run:

1. lists every server of every project with ``GET /servers/detail?
   all_tenants=1`` (pages of :oslo.config:option:`nova.list_page_size`)
   and keeps those whose metadata has a ``vsm:req:`` key;
2. hands each to :meth:`vsm_authz.pipeline.Pipeline.handle_server`: new
   requests with no record (lost notification) are processed, answers that
   are missing or differ from the database are re-asserted, guest
   acknowledgements are recorded;
3. resumes records left ``received``, ``granted`` or ``extending`` for
   longer than :oslo.config:option:`reconcile.in_flight_age` (a worker
   crashed mid-way): under the locks, Cinder's real size decides — at the
   target → ``extended``; ``extending`` → wait; otherwise the extend is
   issued again (once).

Cost of a run, for *S* servers of which *V* carry VSM keys: ``ceil(S /
page)`` Nova list calls, plus for the *V* servers only what the pipeline
needs: nothing for settled servers (database reads only); for a new
request what any request costs (one ``os-volume_attachments`` call, then
under the locks one Cinder ``GET volume``, the project's quota set and
volume list, the Keystone limit check, the extend, its polls and two
metadata ``PUT``); one ``PUT`` metadata item for each answer re-asserted;
and for each server with an unreadable ``vsm:req:`` value, one
``os-volume_attachments`` call and, when its volume is attached, one
Cinder ``GET volume`` (the ``denied/invalid`` answer carries the size),
at every run until the guest fixes it. For 10,000 servers with a page of
500 and nothing to do: 20 API calls.

Usage::

    reconciler = reconcile.Reconciler(conf, nova, flow)
    reconciler.run_once()            # -> ReconcileReport
    reconciler.start()               # daemon thread every `interval` s
    reconciler.stop()

or ``vsm-authz-listener --reconcile-once``.
"""

import dataclasses
import threading

from oslo_config import cfg
from oslo_log import log as logging

from vsm_agent import protocol
from vsm_authz.db import expansions
from vsm_authz.db import states
from vsm_authz import errors
from vsm_authz import pipeline

LOG = logging.getLogger(__name__)

State = states.RecordState


@dataclasses.dataclass
class ReconcileReport:
    servers: int = 0
    resumed: int = 0
    errors: int = 0


class Reconciler:
    """One run at a time per process."""

    def __init__(self, conf: cfg.ConfigOpts, nova, flow: pipeline.Pipeline):
        self.nova = nova
        self.flow = flow
        self.interval = conf.reconcile.interval
        self.in_flight_age = conf.reconcile.in_flight_age
        self.initial_delay = conf.reconcile.initial_delay
        self._stop = threading.Event()
        self._thread = None
        self._run_lock = threading.Lock()

    def run_once(self) -> ReconcileReport:
        """One full pass; never raises (errors are logged and counted)."""
        report = ReconcileReport()
        with self._run_lock:
            try:
                servers = list(self.nova.servers_with_vsm_keys(
                    protocol.REQUEST_PREFIX))
            except Exception:
                LOG.exception('Reconciliation could not list servers')
                report.errors += 1
                servers = []
            for server in servers:
                if self._stop.is_set():
                    break
                report.servers += 1
                try:
                    self.flow.handle_server(server)
                except Exception as exc:
                    report.errors += 1
                    log = (LOG.warning if errors.is_transient(exc)
                           else LOG.exception)
                    log('Reconciliation of server %s failed: %s',
                        server.get('id'), exc)
            unfinished = (State.RECEIVED,) + tuple(states.IN_FLIGHT_STATES)
            for record in expansions.in_flight(older_than=self.in_flight_age,
                                               states=unfinished):
                if self._stop.is_set():
                    break
                if self.flow.projects and \
                        record.project_id not in self.flow.projects:
                    continue
                try:
                    LOG.info('Resuming request %s of server %s volume %s '
                             '(%s since %s)', record.request_id,
                             record.server_id, record.volume_id,
                             record.state, record.updated_at)
                    self.flow.resume(record)
                    report.resumed += 1
                except Exception as exc:
                    report.errors += 1
                    log = (LOG.warning if errors.is_transient(exc)
                           else LOG.exception)
                    log('Resuming request %s of volume %s failed: %s',
                        record.request_id, record.volume_id, exc)
        LOG.info('Reconciliation: %d servers with VSM keys, %d records '
                 'resumed, %d errors', report.servers, report.resumed,
                 report.errors)
        return report

    def _loop(self):
        if self._stop.wait(self.initial_delay):
            return
        while not self._stop.is_set():
            self.run_once()
            if self._stop.wait(self.interval):
                return

    def start(self) -> None:
        """Run every ``interval`` seconds in a daemon thread (no-op when
        the interval is 0)."""
        if not self.interval or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop,
                                        name='vsm-reconcile', daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
