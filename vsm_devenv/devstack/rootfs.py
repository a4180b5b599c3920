"""The container's root file system and the git repositories DevStack clones.

The host needs ``debootstrap``, ``systemd-container`` and ``slirp4netns``
(:func:`ensure_host_packages` installs what is missing). The tree is built
in three steps:

1. :func:`cached_base` - a Debian 12 ``minbase`` with systemd, sudo and git,
   debootstrapped once into the cache (``<work>/cache/rootfs-bookworm``,
   about 2.5 min); later runs reuse it;
2. :func:`make_tree` - a copy of it for this run (the run's container tree,
   removed when the run ends);
3. :func:`configure` - what DevStack and this machine need inside: the
   ``stack`` user with password-less sudo (DevStack refuses root), the
   registries' intercepting CA for apt, git and pip, DNS through slirp4netns,
   a no-op ``iscsid`` (no iSCSI netlink in the kernel), and Cinder's fake
   back end with a working extend (``files/fake_extend_driver.py``);

then :func:`make_repos` turns the snapshots into one-commit bare repositories
under ``/srv/git/openstack/`` (``GIT_BASE=file:///srv/git``) and the VSM
checkout - its working tree as it is, uncommitted changes included - into
``/srv/git/openstack/vsm.git`` for ``enable_plugin vsm``.
"""

import logging
import os
import pathlib
import shutil
import subprocess
import tempfile

from vsm_devenv.devstack import snapshots

LOG = logging.getLogger(__name__)

FILES = pathlib.Path(__file__).resolve().parent / 'files'
HOST_PACKAGES = ('debootstrap', 'systemd-container', 'slirp4netns')
SUITE = 'bookworm'
ROOTFS_PACKAGES = ('systemd', 'systemd-sysv', 'dbus', 'sudo', 'git',
                   'iproute2', 'ca-certificates', 'curl', 'procps',
                   'lsb-release', 'less', 'iputils-ping')
HOST_CA_DIR = pathlib.Path('/usr/local/share/ca-certificates')
SITE_PACKAGES = 'usr/local/lib/python3.11/dist-packages'
STACK_HOME = 'opt/stack'


def _run(argv, log_file=None, **kwargs):
    """Run a host command; its output goes to ``log_file`` if given."""
    if log_file is None:
        return subprocess.run(argv, check=True, **kwargs)
    with open(log_file, 'ab') as out:
        return subprocess.run(argv, check=True, stdout=out,
                              stderr=subprocess.STDOUT, **kwargs)


def ensure_host_packages(log_file):
    """apt-get install the host tools that are missing."""
    missing = [pkg for pkg in HOST_PACKAGES if subprocess.run(
        ['dpkg-query', '-W', '-f=${Status}', pkg], capture_output=True,
        text=True).stdout.split()[-1:] != ['installed']]
    if missing:
        LOG.info('installing host packages: %s', ' '.join(missing))
        env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
        # another apt may be running (tools/install-deps.sh): wait for it
        lock = ['-o', 'DPkg::Lock::Timeout=300']
        _run(['apt-get', '-q'] + lock + ['update'], log_file, env=env)
        _run(['apt-get', 'install', '-y', '-q'] + lock + missing, log_file,
             env=env)


def cached_base(cache: pathlib.Path, log_file) -> pathlib.Path:
    """The debootstrapped base tree, made once."""
    base = cache / ('rootfs-' + SUITE)
    if (base / 'etc' / 'os-release').exists():
        return base
    partial = cache / ('rootfs-%s.partial' % SUITE)
    shutil.rmtree(partial, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)
    LOG.info('debootstrap %s into %s', SUITE, partial)
    _run(['debootstrap', '--variant=minbase',
          '--include=' + ','.join(ROOTFS_PACKAGES), SUITE, str(partial)],
         log_file)
    _run(['chroot', str(partial), 'apt-get', 'clean'], log_file)
    partial.rename(base)
    return base


def make_tree(base: pathlib.Path, root: pathlib.Path):
    """A fresh copy of ``base`` at ``root`` for one run."""
    if root.exists():
        raise RuntimeError('%s exists: a previous run was not cleaned up '
                           '(remove it once no container uses it)' % root)
    root.parent.mkdir(parents=True, exist_ok=True)
    _run(['cp', '-a', '--reflink=auto', str(base), str(root)])


def configure(root: pathlib.Path, hostname: str, host_ip: str,
              dns: str, log_file):
    """Make the copied tree ready for DevStack (see the module doc)."""
    etc = root / 'etc'
    (etc / 'hostname').write_text(hostname + '\n')
    (etc / 'hosts').write_text('127.0.0.1 localhost\n127.0.1.1 %s\n%s %s\n'
                               % (hostname, host_ip, hostname))
    resolv = etc / 'resolv.conf'
    if resolv.is_symlink() or resolv.exists():
        resolv.unlink()
    resolv.write_text('nameserver %s\n' % dns)

    for cert in HOST_CA_DIR.glob('*.crt'):
        shutil.copy(cert, root / 'usr/local/share/ca-certificates')
    _run(['chroot', str(root), 'update-ca-certificates'], log_file)
    (etc / 'pip.conf').write_text(
        '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n')

    _run(['chroot', str(root), 'useradd', '-s', '/bin/bash', '-d',
          '/' + STACK_HOME, '-m', 'stack'], log_file)
    (root / STACK_HOME).chmod(0o755)
    sudoers = etc / 'sudoers.d' / 'stack'
    sudoers.write_text('stack ALL=(ALL) NOPASSWD: ALL\n')
    sudoers.chmod(0o440)
    _run(['chroot', str(root), 'git', 'config', '--system', '--add',
          'safe.directory', '*'], log_file)

    dropin = etc / 'systemd/system/iscsid.service.d'
    dropin.mkdir(parents=True, exist_ok=True)
    shutil.copy(FILES / 'iscsid-override.conf', dropin / 'override.conf')
    site = root / SITE_PACKAGES
    site.mkdir(parents=True, exist_ok=True)
    shutil.copy(FILES / 'fake_extend_driver.py', site)


def _commit_tree(tree: pathlib.Path, message: str, tag=None):
    """``git init`` + one commit of ``tree`` on BRANCH and master."""
    git = ['git', '-C', str(tree), '-c', 'user.name=vsm-devstack-tier',
           '-c', 'user.email=vsm-devstack-tier@localhost']
    _run(git + ['init', '-q', '-b', snapshots.BRANCH])
    _run(git + ['add', '-A'])
    _run(git + ['commit', '-q', '-m', message])
    _run(git + ['branch', 'master'])
    if tag:
        _run(git + ['tag', tag])


def _bare_clone(tree: pathlib.Path, dest: pathlib.Path):
    dest.parent.mkdir(parents=True, exist_ok=True)
    _run(['git', 'clone', '-q', '--bare', str(tree), str(dest)])


def make_repos(root: pathlib.Path, src: pathlib.Path,
               checkout: pathlib.Path, work: pathlib.Path):
    """The snapshots and the VSM checkout as bare repos in the tree."""
    git_base = root / 'srv' / 'git' / 'openstack'
    for name, tag in snapshots.VERSIONS.items():
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            tree = pathlib.Path(tmp)
            _run(['tar', '-xzf', str(snapshots.archive(src, name)), '-C',
                  str(tree)])
            _commit_tree(tree, '%s %s snapshot' % (name, snapshots.BRANCH),
                         tag)
            _bare_clone(tree, git_base / (name + '.git'))

    # The checkout as it is now: tracked and new files, not ignored ones.
    listed = subprocess.run(
        ['git', '-C', str(checkout), 'ls-files', '-z', '--cached',
         '--others', '--exclude-standard'], check=True,
        capture_output=True).stdout.decode().split('\0')
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        tree = pathlib.Path(tmp)
        for rel in filter(None, listed):
            path = checkout / rel
            if path.is_file():
                (tree / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, tree / rel)
        _commit_tree(tree, 'vsm working tree')
        _bare_clone(tree, git_base / 'vsm.git')
    _run(['chroot', str(root), 'chown', '-R', 'stack:stack', '/srv/git'])
