"""How each local-cloud process is started and when it counts as ready.

Three kinds of processes, all run as root in their own session with output in
``$ROOT/logs/<name>.log`` (see :mod:`procs`):

- infrastructure from Debian, started by hand on loopback with private data
  dirs: ``epmd`` + ``rabbitmq`` (``/usr/lib/rabbitmq/bin/rabbitmq-server``,
  bypassing Debian's wrapper that switches to the rabbitmq user and /var/lib)
  and ``mariadb``;
- WSGI APIs under gunicorn (1 worker, Keystone 2; 4 threads each) via
  :mod:`vsm_devenv.localcloud.wsgi`;
- the OpenStack daemons' own console scripts from the venv.

``STOP_ORDER`` is what ``down`` uses: consumers first, broker and database
last.
"""

import glob
import os
import subprocess

from vsm_devenv.localcloud.layout import HOST
from vsm_devenv.localcloud.layout import PASSWORD
from vsm_devenv.localcloud.layout import PORTS
from vsm_devenv.localcloud.layout import REPO_ROOT
from vsm_devenv.localcloud import procs
from vsm_devenv.wait import wait_for

APIS = {  # name -> port
    'keystone': PORTS['keystone'],
    'placement_api': PORTS['placement_api'],
    'cinder_api': PORTS['cinder_api'],
    'neutron_api': PORTS['neutron_api'],
    'nova_api': PORTS['nova_api'],
    'nova_metadata': PORTS['nova_metadata'],
}
DAEMONS = {  # name -> config file under etc/
    'cinder-scheduler': 'cinder/cinder.conf',
    'cinder-volume': 'cinder/cinder.conf',
    'nova-conductor': 'nova/nova.conf',
    'nova-scheduler': 'nova/nova.conf',
    'nova-compute': 'nova/nova.conf',
}
DATABASES = (
    'keystone',
    'cinder',
    'placement',
    'nova_api',
    'nova_cell0',
    'nova_cell1',
    'neutron',
)
STOP_ORDER = (
    'nova-compute',
    'nova_api',
    'nova_metadata',
    'nova-scheduler',
    'nova-conductor',
    'cinder-volume',
    'cinder-scheduler',
    'cinder_api',
    'neutron_api',
    'placement_api',
    'keystone',
    'mariadb',
    'rabbitmq',
    'epmd',
)

FAKE_SUDO = """#!/bin/sh
# vsm-localcloud: we already are root and rootwrap filtering is not under test
# here:
# drop "-E" and "<service>-rootwrap <conf>", run the command itself. TEST ONLY.
[ "$1" = "-E" ] && shift
case "$1" in *-rootwrap) shift 2;; esac
exec "$@"
"""


def openstack_env(layout, extra_pythonpath=False):
    """Environment of OpenStack processes: venv, fake sudo first on PATH."""
    env = dict(os.environ)
    env['PATH'] = (
        f'{layout.bin}:{layout.venv / "bin"}:'
        f'{env.get("PATH", "/usr/bin:/bin")}'
    )
    env['VSM_LOCALCLOUD_ROOT'] = str(layout.root)
    env.pop('PYTHONPATH', None)
    if extra_pythonpath:
        env['PYTHONPATH'] = str(REPO_ROOT)
    return env


def write_fake_sudo(layout):
    sudo = layout.bin / 'sudo'
    sudo.write_text(FAKE_SUDO)
    sudo.chmod(0o755)


# ------------------------------------------------------------------ RabbitMQ
def rabbitmq_env(layout):
    d, etc = layout.data / 'rabbitmq', layout.etc / 'rabbitmq'
    loopback = '-kernel inet_dist_use_interface {127,0,0,1}'
    return dict(
        os.environ,
        HOME=str(d),
        RABBITMQ_NODENAME='rabbit@localhost',
        RABBITMQ_NODE_IP_ADDRESS=HOST,
        RABBITMQ_NODE_PORT=str(PORTS['rabbitmq']),
        RABBITMQ_DIST_PORT=str(PORTS['rabbitmq_dist']),
        ERL_EPMD_ADDRESS=HOST,
        RABBITMQ_MNESIA_BASE=str(d / 'mnesia'),
        RABBITMQ_LOG_BASE=str(d / 'log'),
        RABBITMQ_CONFIG_FILE=str(etc / 'rabbitmq.conf'),
        RABBITMQ_ENABLED_PLUGINS_FILE=str(etc / 'enabled_plugins'),
        RABBITMQ_CONF_ENV_FILE=str(etc / 'rabbitmq-env.conf'),
        RABBITMQ_PID_FILE=str(d / 'rabbit.pid'),
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=loopback,
        RABBITMQ_CTL_ERL_ARGS=loopback,
    )


def start_rabbitmq(layout):
    env = rabbitmq_env(layout)
    (layout.data / 'rabbitmq' / 'log').mkdir(parents=True, exist_ok=True)
    epmd = (glob.glob('/usr/lib/erlang/erts-*/bin/epmd') or ['epmd'])[0]
    procs.start(layout, 'epmd', [epmd, '-address', HOST], env=env)
    procs.start(
        layout, 'rabbitmq', ['/usr/lib/rabbitmq/bin/rabbitmq-server'], env=env
    )


def wait_rabbitmq(timeout=90):
    # the AMQP listener opens at the very end of the broker's boot
    wait_for(
        lambda: procs.port_open(HOST, PORTS['rabbitmq']), timeout, 'rabbitmq'
    )


# ------------------------------------------------------------------ MariaDB
def mariadb_client(layout, sql, password=None):
    """Run SQL as root over the private unix socket."""
    argv = [
        'mariadb',
        '--no-defaults',
        '-S',
        str(layout.mariadb_socket),
        '-uroot',
    ]
    if password:
        argv.append(f'-p{password}')
    return subprocess.run(argv + ['-e', sql], capture_output=True, text=True)


def start_mariadb(layout):
    d = layout.data / 'mariadb'
    (d / 'data').mkdir(parents=True, exist_ok=True)
    with open(layout.log('mariadb-install'), 'wb') as out:
        subprocess.run(
            [
                'mariadb-install-db',
                '--no-defaults',
                f'--datadir={d}/data',
                '--user=root',
                '--auth-root-authentication-method=normal',
                '--skip-test-db',
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
        )
    procs.start(
        layout,
        'mariadb',
        [
            'mariadbd',
            '--no-defaults',
            f'--datadir={d}/data',
            f'--socket={layout.mariadb_socket}',
            f'--pid-file={d}/mysqld.pid',
            f'--bind-address={HOST}',
            f'--port={PORTS["mariadb"]}',
            '--user=root',
            '--skip-name-resolve',
            '--max-connections=1000',
            '--innodb-buffer-pool-size=256M',
            '--innodb-flush-log-at-trx-commit=2',
            '--skip-log-bin',
            '--character-set-server=utf8mb4',
        ],
    )


def init_mariadb(layout, timeout=60):
    """Wait for MariaDB; set root@127.0.0.1's password; create the DBs."""
    wait_for(
        lambda: mariadb_client(layout, 'SELECT 1').returncode == 0,
        timeout,
        'mariadb',
    )
    # mariadb-install-db already creates root@127.0.0.1 (without password)
    sql = [
        f"CREATE USER IF NOT EXISTS 'root'@'{HOST}'",
        f"ALTER USER 'root'@'{HOST}' IDENTIFIED BY '{PASSWORD}'",
        f"GRANT ALL ON *.* TO 'root'@'{HOST}' WITH GRANT OPTION",
    ]
    sql += [f'CREATE DATABASE {db}' for db in DATABASES]
    result = mariadb_client(layout, '; '.join(sql))
    if result.returncode != 0:
        raise RuntimeError(f'mariadb setup failed: {result.stderr}')


# ------------------------------------------------------------------ OpenStack
# services
# Keystone is in every request's path (and on `up`'s critical path): two
# workers.
API_WORKERS = {'keystone': 2}


def start_api(layout, name, nice=0):
    workers = str(API_WORKERS.get(name, 1))
    argv = [
        str(layout.venv_bin('gunicorn')),
        '--no-control-socket',
        '-b',
        f'{HOST}:{APIS[name]}',
        '-w',
        workers,
        '--threads',
        '4',
        '--timeout',
        '120',
        # gunicorn closes idle connections after 2 s by default, exactly
        # the interval at which clients poll (openstacksdk wait_for_*):
        # the client then reuses a socket the server is closing and gets
        # RemoteDisconnected. Keep idle connections longer than any poll.
        '--keep-alive',
        '75',
        f'vsm_devenv.localcloud.wsgi:application("{name}")',
    ]
    procs.start(
        layout,
        name,
        argv,
        env=openstack_env(layout, extra_pythonpath=True),
        nice=nice,
    )


def start_daemon(layout, name, extra_pythonpath=False, nice=0):
    argv = [
        str(layout.venv_bin(name)),
        '--config-file',
        str(layout.etc / DAEMONS[name]),
    ]
    procs.start(
        layout,
        name,
        argv,
        env=openstack_env(layout, extra_pythonpath),
        nice=nice,
    )


def api_url(name):
    return f'http://{HOST}:{APIS[name]}/'


def wait_api(name, timeout=120):
    procs.wait_http(api_url(name), timeout)
