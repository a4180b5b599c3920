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

"""Run every benchmark in turn and print its figures (``tox -e bench``).

    python -m benchmarks                      # all of them
    python -m benchmarks authz_decide agent   # some of them

Each benchmark runs in its own process (so one's memory or threads cannot
colour another's figures) and prints its own table against the budgets of
DESIGN §8. Nothing is asserted: a benchmark that cannot run says why and
the others go on. The local cloud must be up for ``authz_listener`` (its
RabbitMQ) and ``e2e`` (with ``--nova-driver qmp``); ``tox -e bench`` starts
it.
"""

import subprocess
import sys
import time

BENCHMARKS = (
    ('authz_decide', 'decisions per worker, state operations'),
    ('authz_listener', 'unrelated notifications dropped per worker'),
    ('agent', 'detection latency, agent footprint'),
    ('e2e', 'request -> filesystem grown, headroom race'),
)


def main(argv):
    wanted = argv[1:] or [name for name, _ in BENCHMARKS]
    unknown = set(wanted) - {name for name, _ in BENCHMARKS}
    if unknown:
        print('unknown benchmark(s): %s (choose from %s)'
              % (', '.join(sorted(unknown)),
                 ', '.join(name for name, _ in BENCHMARKS)))
        return 2
    failed = []
    for name, what in BENCHMARKS:
        if name not in wanted:
            continue
        print('\n==== %s: %s ====' % (name, what), flush=True)
        start = time.monotonic()
        rc = subprocess.call([sys.executable, '-m',
                              'benchmarks.%s_bench' % name])
        print('---- %s finished in %.0f s (exit %d)'
              % (name, time.monotonic() - start, rc), flush=True)
        if rc:
            failed.append(name)
    if failed:
        print('\nbenchmarks that could not run: %s' % ', '.join(failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
