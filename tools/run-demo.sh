#!/bin/bash
# The demo command of the README: installs what it needs, brings up the
# local cloud and a QEMU guest, fills the guest's disk and shows VSM growing
# it live; writes demo-out/expansion.svg (and .png), then tears down.
#
#   tools/run-demo.sh                 # the whole story, ~2 min on a warm cloud
#   tools/run-demo.sh --keep          # leave the local cloud running
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
exec tox -e demo -- "$@"
