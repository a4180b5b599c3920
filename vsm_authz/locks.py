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

"""Critical sections that hold across threads, processes and hosts (tooz).

Two kinds of lock, both blocking with a timeout::

    locks = Locks(conf)          # reads [coordination]
    locks.start()
    with locks.volume(volume_id):        # one decision/extend per volume
        with locks.project(project_id):  # one grant in flight per project
            decide(...); extend(...); wait until Cinder shows the size
    locks.stop()

:class:`LockTimeout` is raised when a lock is not acquired within
``[coordination] lock_timeout`` seconds (or the ``timeout`` argument):
treat it as transient (requeue the notification; reconciliation will also
pick the request up).

**Why a project lock.** The decision reads the project's Cinder quota
usage and its Keystone-limit usage, then extends. Two workers deciding
for the same project at once would both see the same headroom and both
grant it: together they overshoot. Holding ``project(project_id)`` from
reading the usage until the extend is *visible in Cinder* (the volume is
back to ``in-use`` at the new size, so the next reader's usage includes
it) makes grants of one project strictly sequential — across every worker
on every host that shares the backend — so concurrent requests can never
overshoot the project's limit or quota.

**Its cost.** Grants of one project run one at a time: throughput per
project is about 1 / (decision + extend round trip); with Cinder's
in-use extend taking ~0.6 s on the local cloud, that is ~1.5 grants/s per
project. Different projects do not contend. VSM's own cooldowns make a
single volume ask at most every ``cooldown_seconds``, so this only bites
a project with many volumes filling at once; their requests queue, they
are not refused (up to ``lock_timeout``).

**Lock order.** Always ``volume`` before ``project``, never the reverse,
and never two volumes or two projects at once: with one global order
there is no deadlock.

**Backends** (``backend_url``):

- ``file://$state_path/locks`` (default): fcntl locks on files, one per
  volume/project (files stay; they are empty). Holds across the processes
  of **one host** and across threads (tooz adds an in-process barrier).
- ``redis://host:6379``, ``etcd3+http://host:2379``, ``zookeeper://…``:
  across hosts — required as soon as workers run on more than one host.
  Needs the driver's client library installed.
"""

import contextlib
import os
import socket
import threading

from oslo_log import log as logging
from tooz import coordination

LOG = logging.getLogger(__name__)


class LockTimeout(Exception):
    """A lock was not acquired in time."""

    def __init__(self, name, timeout):
        self.name, self.timeout = name, timeout
        super().__init__('could not acquire lock %s within %.1f s'
                         % (name, timeout))


class Locks:
    """Named tooz locks for volumes and projects; thread-safe."""

    def __init__(self, conf, member_id=None):
        self.backend_url = conf.coordination.backend_url
        self.timeout = conf.coordination.lock_timeout
        self.member_id = member_id or '%s-%d-%s' % (
            socket.gethostname(), os.getpid(), id(self))
        self._coordinator = None
        self._start_lock = threading.Lock()

    def start(self):
        """Connect to the backend (idempotent)."""
        with self._start_lock:
            if self._coordinator is not None:
                return
            coordinator = coordination.get_coordinator(
                self.backend_url, self.member_id.encode())
            coordinator.start(start_heart=True)
            self._coordinator = coordinator
            LOG.debug('Locks started on %s as %s', self.backend_url,
                      self.member_id)

    def stop(self):
        """Disconnect (idempotent); held locks are released by the
        backend."""
        with self._start_lock:
            coordinator, self._coordinator = self._coordinator, None
        if coordinator is not None:
            coordinator.stop()

    def volume(self, volume_id, timeout=None):
        """Context manager: the critical section of one volume."""
        return self._hold('vsm-volume-%s' % volume_id, timeout)

    def project(self, project_id, timeout=None):
        """Context manager: the critical section of one project (see the
        module docstring for why and what it costs)."""
        return self._hold('vsm-project-%s' % project_id, timeout)

    @contextlib.contextmanager
    def _hold(self, name, timeout):
        if self._coordinator is None:
            raise RuntimeError('Locks.start() was not called')
        timeout = self.timeout if timeout is None else timeout
        lock = self._coordinator.get_lock(name.encode())
        if not lock.acquire(blocking=timeout):
            raise LockTimeout(name, timeout)
        try:
            yield
        finally:
            try:
                lock.release()
            except Exception:  # the backend lost it: log, do not mask
                LOG.exception('Releasing lock %s failed', name)
