"""Install what the local cloud runs on: Debian packages and the services venv.

Both steps are idempotent and skipped when already done, so a warm ``up``
spends ~0 s here.

- Debian packages (``ensure_apt_packages``): RabbitMQ, MariaDB, the NFS client
  (Cinder's NFS driver checks for ``mount.nfs``), ``qemu-img`` (the NFS driver
  resizes with it) and ``socat`` (QEMU guestfwd). A ``/usr/sbin/policy-rc.d``
  that exits 101 is put in place for the duration of the install when none
  exists, so the packages' maintainer scripts do not start system-wide daemons:
  the local cloud starts its own, on loopback, with private data dirs.
  ``apt-get update`` runs only when a package cannot be found.
- The services venv (``ensure_venv``): one venv at ``$ROOT/venv`` with every
  OpenStack service from PyPI (see ``layout.VENV_PACKAGES``). A marker file
  records the installed package set; it is reinstalled only when that set
  changes or the venv is broken.

Run alone with ``python -m vsm_devenv.localcloud.install`` (same as the first
phase of ``up``).
"""

import glob
import os
import pathlib
import shutil
import subprocess
import sys

from vsm_devenv.localcloud import layout as lay

# package -> a file that proves it is installed
APT_PACKAGES = {
    'rabbitmq-server': '/usr/lib/rabbitmq/bin/rabbitmq-server',
    'mariadb-server': '/usr/sbin/mariadbd',
    'nfs-common': '/sbin/mount.nfs',
    'qemu-utils': '/usr/bin/qemu-img',
    'socat': '/usr/bin/socat',
}
POLICY_RC_D = pathlib.Path('/usr/sbin/policy-rc.d')
MARKER = '.vsm-localcloud-packages'


def missing_apt_packages():
    return [
        pkg for pkg, path in APT_PACKAGES.items() if not os.path.exists(path)
    ]


def _apt_install(packages):
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    cmd = [
        'apt-get',
        'install',
        '-y',
        '-q',
        '--no-install-recommends',
        *packages,
    ]
    return subprocess.run(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def ensure_apt_packages(log=print):
    """apt-get install missing Debian packages, without starting daemons."""
    packages = missing_apt_packages()
    if not _python_can_make_venvs() and sys.executable.startswith('/usr/bin/'):
        packages.append(
            'python3-venv'
        )  # Debian's python3 ships without ensurepip
    if not packages:
        return
    if os.geteuid() != 0:
        raise SystemExit(
            f'missing Debian packages {packages}: run as root'
        )
    log(f'apt-get install {" ".join(packages)}')
    created_policy = not POLICY_RC_D.exists()
    if created_policy:
        POLICY_RC_D.write_text(
            '#!/bin/sh\n# vsm-localcloud: do not start daemons\nexit 101\n'
        )
        POLICY_RC_D.chmod(0o755)
    try:
        result = _apt_install(packages)
        if (
            result.returncode != 0
        ):  # stale or empty package lists on a fresh machine
            subprocess.run(
                ['apt-get', 'update', '-q'],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            result = _apt_install(packages)
        if result.returncode != 0:
            raise SystemExit(
                f'apt-get install failed:\n{result.stdout[-3000:]}'
            )
    finally:
        if created_policy:
            POLICY_RC_D.unlink()


def _python_can_make_venvs(python=sys.executable):
    return (
        subprocess.run(
            [python, '-c', 'import ensurepip, venv'],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ).returncode
        == 0
    )


def venv_ready(layout):
    marker = layout.venv / MARKER
    return (
        marker.exists()
        and marker.read_text().split() == sorted(lay.VENV_PACKAGES)
        and layout.venv_bin('nova-compute').exists()
    )


def ensure_venv(layout, python=None, log=print):
    """Create ``$ROOT/venv`` with the OpenStack services unless complete."""
    if venv_ready(layout):
        return
    python = (
        python or os.environ.get('VSM_LOCALCLOUD_PYTHON') or sys.executable
    )
    if not layout.venv_bin('python').exists():
        log(f'creating venv {layout.venv} with {python}')
        if layout.venv.exists():
            shutil.rmtree(layout.venv)
        subprocess.run([python, '-m', 'venv', str(layout.venv)], check=True)
    log(f'pip install {" ".join(lay.VENV_PACKAGES)} (a few minutes when cold)')
    pip_log = layout.root / 'pip-install.log'
    with open(pip_log, 'w') as out:
        result = subprocess.run(
            [
                str(layout.venv_bin('pip')),
                'install',
                '--upgrade',
                *lay.VENV_PACKAGES,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if result.returncode != 0:
        raise SystemExit(
            f'pip install into {layout.venv} failed, see {pip_log}'
        )
    (layout.venv / MARKER).write_text(
        '\n'.join(sorted(lay.VENV_PACKAGES)) + '\n'
    )


_SHIM_NOTE = (
    '# Written by vsm_devenv.localcloud.install.install_qmp_driver_alias: Nova 34\n'
    "# loads compute_driver as 'nova.virt.' + compute_driver only, so the\n"
    '# test driver vsm_devenv.nova_driver.QMPFakeDriver needs this alias.\n')


def install_qmp_driver_alias(venv):
    """Make ``compute_driver = vsm_devenv.nova_driver.QMPFakeDriver`` load.

    nova.virt.driver.load_compute_driver imports
    ``'nova.virt.' + compute_driver`` and nothing else, so the test driver
    must also exist as ``nova.virt.vsm_devenv.nova_driver``: this writes a
    two-line alias package into the services venv's ``nova/virt``.
    Returns True if it wrote anything.
    """
    pkgs = glob.glob(os.path.join(venv, 'lib', 'python3*', 'site-packages',
                                  'nova', 'virt'))
    wrote = False
    for virt in pkgs:
        alias = os.path.join(virt, 'vsm_devenv')
        files = {'__init__.py': _SHIM_NOTE,
                 'nova_driver.py': _SHIM_NOTE + 'from vsm_devenv.nova_driver '
                 'import QMPFakeDriver  # noqa: F401\n'}
        for name, text in files.items():
            path = os.path.join(alias, name)
            if not os.path.exists(path):
                os.makedirs(alias, exist_ok=True)
                with open(path, 'w') as f:
                    f.write(text)
                wrote = True
    return wrote


def main():
    layout = lay.Layout()
    layout.root.mkdir(parents=True, exist_ok=True)
    ensure_apt_packages()
    ensure_venv(layout)


if __name__ == '__main__':
    main()
