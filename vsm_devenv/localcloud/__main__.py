"""``python -m vsm_devenv.localcloud``: see :mod:`.cli`."""

import sys

from vsm_devenv.localcloud.cli import main

sys.exit(main())
