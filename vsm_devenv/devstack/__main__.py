"""``python -m vsm_devenv.devstack``: one full DevStack cycle, no test.

Brings a container up to a running stack with VSM's plugin, runs
``unstack.sh``, stops and removes the container and prints the phase
timings and memory peaks. Exit status 0 if every phase passed. The test
tier (``tox -e devstack``) does the same with the tenant scenario in the
middle; this entry point is for timing and for debugging the plugin.
"""

import logging
import sys

from vsm_devenv.devstack import run
from vsm_devenv.devstack import snapshots


def main():
    logging.basicConfig(level=logging.INFO,
                        format='%(asctime)s %(message)s', datefmt='%H:%M:%S')
    reason = snapshots.unavailable(snapshots.source_dir())
    if reason:
        print(reason, file=sys.stderr)
        return 2
    try:
        run.run_all()
    except Exception as exc:
        print('failed: %s' % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
