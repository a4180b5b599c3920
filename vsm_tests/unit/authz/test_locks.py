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

"""The project lock really serialises grants across processes.

Several processes play listener workers granting from one project's
limit, kept in a shared counter file: read the usage, think a little,
write usage + delta if it fits. Without the lock they read the same
usage and together grant more than the limit (the control run proves the
race is real); with ``Locks.project`` they grant exactly the limit.
"""

import multiprocessing
import os
import threading
import time

import fixtures
from oslo_config import cfg
import testtools

from vsm_authz import conf as vsm_conf
from vsm_authz import locks

LIMIT = 40
DELTA = 1
WORKERS = 4


def _worker(state_path, counter_path, use_lock, barrier, results):
    conf = cfg.ConfigOpts()
    vsm_conf.register_opts(conf)
    conf([])
    conf.set_override('state_path', state_path)
    vsm_locks = locks.Locks(conf)
    vsm_locks.start()
    granted = 0
    barrier.wait()
    try:
        while True:
            section = (vsm_locks.project('p1') if use_lock
                       else _nothing())
            with section:
                with open(counter_path) as f:
                    usage = int(f.read())
                if usage + DELTA > LIMIT:
                    break
                time.sleep(0.002)  # the decision and the extend
                # Atomic replace: readers never see a half-written file,
                # so the only possible error is the race itself.
                tmp = '%s.%d' % (counter_path, os.getpid())
                with open(tmp, 'w') as f:
                    f.write(str(usage + DELTA))
                os.replace(tmp, counter_path)
                granted += DELTA
    finally:
        vsm_locks.stop()
    results.put(granted)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class TestProjectLockAcrossProcesses(testtools.TestCase):
    def run_workers(self, use_lock):
        state_path = self.useFixture(fixtures.TempDir()).path
        counter = os.path.join(state_path, 'usage')
        with open(counter, 'w') as f:
            f.write('0')
        ctx = multiprocessing.get_context('fork')
        barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
        procs = [ctx.Process(target=_worker,
                             args=(state_path, counter, use_lock, barrier,
                                   results))
                 for _ in range(WORKERS)]
        [p.start() for p in procs]
        granted = [results.get(timeout=60) for _ in procs]
        [p.join(30) for p in procs]
        self.assertEqual([0] * WORKERS, [p.exitcode for p in procs])
        return sum(granted)

    def test_without_lock_the_race_overshoots(self):
        # The control: proves the test can see the race it guards against.
        self.assertGreater(self.run_workers(use_lock=False), LIMIT)

    def test_with_lock_never_overshoots(self):
        self.assertEqual(LIMIT, self.run_workers(use_lock=True))


class TestLocks(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.conf = cfg.ConfigOpts()
        vsm_conf.register_opts(self.conf)
        self.conf([])
        self.conf.set_override('state_path',
                               self.useFixture(fixtures.TempDir()).path)

    def make(self):
        vsm_locks = locks.Locks(self.conf)
        vsm_locks.start()
        self.addCleanup(vsm_locks.stop)
        return vsm_locks

    def test_timeout(self):
        holder, waiter = self.make(), self.make()
        errors = []
        with holder.project('p1'):
            def wait():
                try:
                    with waiter.project('p1', timeout=0.2):
                        pass
                except locks.LockTimeout as exc:
                    errors.append(exc)
            t = threading.Thread(target=wait)
            t.start()
            t.join(10)
        self.assertEqual(1, len(errors))
        self.assertIn('vsm-project-p1', str(errors[0]))

    def test_distinct_names_do_not_contend(self):
        a, b = self.make(), self.make()
        done = []
        with a.project('p1'), a.volume('v1'):
            t = threading.Thread(target=lambda: (
                b.project('p2', timeout=2).__enter__(), done.append(1)))
            t.start()
            t.join(10)
        self.assertEqual([1], done)

    def test_threads_of_one_process_are_serialised(self):
        vsm_locks = self.make()
        inside, overlaps = [], []

        def work():
            for _ in range(20):
                with vsm_locks.volume('v1'):
                    inside.append(1)
                    if len(inside) > 1:
                        overlaps.append(1)
                    time.sleep(0.0005)
                    inside.pop()

        threads = [threading.Thread(target=work) for _ in range(4)]
        [t.start() for t in threads]
        [t.join(30) for t in threads]
        self.assertEqual([], overlaps)

    def test_not_started(self):
        vsm_locks = locks.Locks(self.conf)
        self.assertRaises(RuntimeError, vsm_locks.volume('v').__enter__)
