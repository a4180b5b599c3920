"""``python -m vsm_devenv.localcloud up|down|status|env``: see :mod:`vsm_devenv.localcloud.cli`."""

import sys

from vsm_devenv.localcloud.cli import main

sys.exit(main())
