"""The source snapshots a DevStack run is built from, and where they are.

DevStack clones every project it installs with ``git``; the tier gives it
local one-commit repositories made from ``git archive`` snapshots of
stable/2026.1 (DevStack, openstack/requirements and the services), so
nothing but the Debian and PyPI registries is needed at run time. The
snapshots are looked up in ``$VSM_DEVSTACK_SRC``, by default
``../shared/devstack/src`` next to the repository::

    from vsm_devenv.devstack import snapshots

    src = snapshots.source_dir()
    reason = snapshots.unavailable(src)   # None, or what is missing and where
    snapshots.archive(src, 'nova')        # .../nova-stable-2026.1.tar.gz

Each service snapshot is tagged with its release (``VERSIONS``) when it is
turned into a repository, because pbr derives the package version from the
tags.
"""

import os
import pathlib

ENV_VAR = 'VSM_DEVSTACK_SRC'
BRANCH = 'stable/2026.1'
REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_DIR = REPO_ROOT.parent / 'shared' / 'devstack' / 'src'

#: Repository name -> release tag for pbr (None: not a Python package).
#: glance is installed whenever n-api is enabled, even without g-api.
VERSIONS = {
    'devstack': None,
    'requirements': None,
    'keystone': '29.0.2',
    'nova': '33.0.2',
    'cinder': '28.0.0',
    'placement': '15.0.0',
    'glance': '32.0.0',
    'neutron': '28.0.1',
}


def source_dir() -> pathlib.Path:
    """The folder holding the snapshots (it may not exist)."""
    return pathlib.Path(os.environ.get(ENV_VAR) or DEFAULT_DIR).resolve()


def archive(src: pathlib.Path, name: str) -> pathlib.Path:
    """Path of ``name``'s snapshot in ``src``."""
    return src / ('%s-%s.tar.gz' % (name, BRANCH.replace('/', '-')))


def unavailable(src: pathlib.Path):
    """``None`` when every snapshot is in ``src``; else a sentence naming
    the missing files and how to provide them."""
    missing = [archive(src, name).name for name in VERSIONS
               if not archive(src, name).is_file()]
    if not missing:
        return None
    return ('DevStack source snapshots missing in %s: %s. Put the git '
            'archives of DevStack, openstack/requirements and the services '
            '(%s) there, or set %s to the folder that holds them.'
            % (src, ', '.join(missing), BRANCH, ENV_VAR))
