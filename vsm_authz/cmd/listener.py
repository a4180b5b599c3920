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

"""``vsm-authz-listener``: the notification consumer, N worker processes.

::

    vsm-authz-listener --config-file /etc/vsm/vsm.conf   # [listener] workers
    vsm-authz-listener --config-file /etc/vsm/vsm.conf --workers 4
    vsm-authz-listener --config-file /etc/vsm/vsm.conf --reconcile-once

With one worker the process consumes itself; with more, a small supervisor
forks the workers (each builds its own connections after the fork),
restarts any that dies, and on SIGTERM/SIGINT passes the signal on and
waits. A worker that gets SIGTERM stops consuming, lets the messages in
hand finish (a running extend is waited for, up to ``[extend] timeout``)
and exits 0. Worker 0 also runs the periodic reconciliation.

``--reconcile-once`` runs one reconciliation pass (lost notifications,
lost answers, crashed extends) and exits: 0 if it met no error, 1 if it did.
"""

import os
import signal
import sys
import threading
import time

from oslo_config import cfg
from oslo_log import log as logging

from vsm_authz import clients
from vsm_authz import conf as vsm_conf
from vsm_authz.db import api as db_api
from vsm_authz.db import policy_overrides
from vsm_authz import expansion_policy
from vsm_authz import listener
from vsm_authz import locks
from vsm_authz import notifier
from vsm_authz import pipeline
from vsm_authz import reconcile
from vsm_authz import rules

LOG = logging.getLogger(__name__)

cli_opts = [
    cfg.IntOpt('workers', min=1,
               help='Override [listener] workers.'),
    cfg.BoolOpt('reconcile-once', default=False,
                help='Run one reconciliation pass and exit.'),
]


def _policy_lookup(conf):
    """``project_id -> ExpansionPolicy``: defaults and stored overrides."""
    def policy_for(project_id):
        return expansion_policy.effective_policy(conf, policy_overrides,
                                                 project_id)
    return policy_for


def build_pipeline(conf: cfg.ConfigOpts, transport=None):
    """Everything a worker needs, built from ``conf``: returns
    ``(flow, lock_service, nova)``. Call ``lock_service.stop()`` when
    done."""
    db_api.configure(conf)
    nova, cinder = clients.connect(conf)
    lock_service = locks.Locks(conf)
    lock_service.start()
    flow = pipeline.Pipeline(
        conf, nova, cinder, lock_service, rules.build_engine(conf),
        notifier.ExpansionNotifier(conf, transport),
        policy_for=_policy_lookup(conf))
    return flow, lock_service, nova


def run_worker(conf: cfg.ConfigOpts, index: int = 0,
               stop_event: threading.Event = None) -> int:
    """Consume until SIGTERM/SIGINT (or ``stop_event``); returns 0."""
    stop_event = stop_event or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop_event.set())
    flow, lock_service, nova = build_pipeline(conf)
    server = listener.build_listener(conf, flow)
    reconciler = reconcile.Reconciler(conf, nova, flow)
    server.start()
    LOG.info('Listener worker %d (pid %d) consuming %s on exchange %s',
             index, os.getpid(), ','.join(conf.listener.topics),
             conf.listener.exchange)
    if index == 0:
        reconciler.start()
    try:
        while not stop_event.wait(1.0):
            pass
    finally:
        LOG.info('Listener worker %d stopping', index)
        reconciler.stop()
        server.stop()
        server.wait()
        lock_service.stop()
    return 0


def reconcile_once(conf: cfg.ConfigOpts) -> int:
    flow, lock_service, nova = build_pipeline(conf)
    try:
        report = reconcile.Reconciler(conf, nova, flow).run_once()
    finally:
        lock_service.stop()
    print('servers=%d resumed=%d errors=%d' % (report.servers,
                                               report.resumed,
                                               report.errors))
    return 1 if report.errors else 0


class Supervisor:
    """Forks ``workers`` processes and keeps them running."""

    RESPAWN_DELAY = 1.0

    def __init__(self, conf, workers):
        self.conf = conf
        self.workers = workers
        self.children = {}  # pid -> index
        self.stopping = False

    def _spawn(self, index):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = run_worker(self.conf, index)
            except Exception:
                LOG.exception('Listener worker %d crashed', index)
            finally:
                os._exit(code)
        self.children[pid] = index
        LOG.info('Started listener worker %d, pid %d', index, pid)

    def _terminate(self, *_):
        self.stopping = True
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._terminate)
        signal.signal(signal.SIGINT, self._terminate)
        for index in range(self.workers):
            self._spawn(index)
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:  # pragma: no cover - PEP 475 retries
                continue
            index = self.children.pop(pid, None)
            if index is None:
                continue
            if self.stopping:
                LOG.info('Listener worker %d (pid %d) exited', index, pid)
                continue
            LOG.error('Listener worker %d (pid %d) died (status %d); '
                      'restarting', index, pid, status)
            time.sleep(self.RESPAWN_DELAY)
            if not self.stopping:
                self._spawn(index)
        return 0


def main(argv=None):
    conf = cfg.CONF  # oslo.limit reads [oslo_limit] from the global CONF
    vsm_conf.parse_args(conf, sys.argv[1:] if argv is None else argv,
                        'vsm-authz-listener', cli_opts)
    if conf.reconcile_once:
        return reconcile_once(conf)
    workers = conf.workers or conf.listener.workers
    if workers == 1:
        return run_worker(conf, 0)
    return Supervisor(conf, workers).run()


if __name__ == '__main__':
    sys.exit(main())
