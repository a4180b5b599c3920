"""Where the local cloud keeps its state; facts every module shares.

Everything lives under one state root, ``$VSM_LOCALCLOUD_ROOT`` (default
``/var/tmp/vsm-localcloud``). The root is deliberately outside any git clone:
the services venv (``$ROOT/venv``, ~700 MB) is cached there across runs and
clones, while everything else (``etc/ run/ logs/ data/``) is wiped by every
``up``.

All listeners bind 127.0.0.1. Passwords are fixed, well-known test values: this
cloud must never be reachable from anywhere but the machine it runs on.
"""

import os
import pathlib

HOST = '127.0.0.1'
REGION = 'RegionOne'
PASSWORD = 'password'
METADATA_SECRET = 'vsm-localcloud-metadata-secret'
DEFAULT_ROOT = '/var/tmp/vsm-localcloud'

PORTS = {
    'rabbitmq': 5672,
    'rabbitmq_dist': 25672,
    'mariadb': 3306,
    'keystone': 5000,
    'nova_api': 8774,
    'nova_metadata': 8775,
    'cinder_api': 8776,
    'placement_api': 8778,
    'neutron_api': 9696,
    'vsm': 8790,  # VSM's future API: only registered in the catalog
}

# Python packages of the services venv (resolve together without a constraints
# file).
VENV_PACKAGES = (
    'keystone',
    'cinder',
    'nova',
    'openstack-placement',
    'neutron',
    'openstacksdk',
    'python-openstackclient',
    'oslo.limit',
    'gunicorn',
    'fixtures',
    'pymysql',
)

# The repository that holds vsm_devenv (put on PYTHONPATH of helpers run in the
# venv).
REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


class Layout:
    """Paths under the state root (computed only: nothing is created)."""

    def __init__(self, root=None):
        self.root = pathlib.Path(
            root or os.environ.get('VSM_LOCALCLOUD_ROOT') or DEFAULT_ROOT
        ).resolve()
        self.venv = self.root / 'venv'
        self.etc = self.root / 'etc'
        self.run = self.root / 'run'
        self.logs = self.root / 'logs'
        self.data = self.root / 'data'
        self.bin = self.root / 'bin'  # fake sudo lives here
        self.wsgi = self.root / 'wsgi'  # generated WSGI shims
        self.qmp = (
            self.root / 'qmp'
        )  # QMPFakeDriver registry (kept across runs' wipes)
        self.info_file = self.etc / 'localcloud.json'
        self.clouds_yaml = self.etc / 'clouds.yaml'
        self.nfs_export = self.data / 'cinder' / 'nfs-export'
        self.nfs_mnt_base = self.data / 'cinder' / 'mnt'

    # State that `up` wipes; the venv and the qmp registry directory survive.
    def volatile_dirs(self):
        return [self.etc, self.run, self.logs, self.data, self.bin, self.wsgi]

    def venv_bin(self, name):
        return self.venv / 'bin' / name

    def pidfile(self, name):
        return self.run / f'{name}.pid'

    def log(self, name):
        return self.logs / f'{name}.log'

    def db_url(self, database):
        return (
            f'mysql+pymysql://root:{PASSWORD}@{HOST}:{PORTS["mariadb"]}/'
            f'{database}?charset=utf8'
        )

    @property
    def transport_url(self):
        return f'rabbit://guest:guest@{HOST}:{PORTS["rabbitmq"]}/'

    @property
    def mariadb_socket(self):
        return self.data / 'mariadb' / 'mysqld.sock'
