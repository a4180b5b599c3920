#!/bin/bash
# The test command of the README: installs what the tests need, then runs
# every tier (style, unit, functional against the local cloud and a QEMU
# guest, end to end) and prints one summary line.
#
#   tools/run-tests.sh                 # all tiers
#   tools/run-tests.sh py3             # only some tox environments
set -euo pipefail
cd "$(dirname "$0")/.."

ENVS=${*:-pep8,py3,functional,e2e,devstack,docs,releasenotes}

tools/install-deps.sh

# stestr numbers its runs: remember where this invocation starts.
first_run=$(cat .stestr/next-stream 2>/dev/null || echo 0)

rc=0
tox -e "$ENVS" || rc=$?

# One closing line over every tier that ran; no test at all is a failure.
summary_rc=0
.tox/py3/bin/python tools/stestr_summary.py "$first_run" || summary_rc=$?
if [ "$rc" = 0 ] && [ "$summary_rc" != 0 ]; then
    rc=$summary_rc
fi
exit $rc
