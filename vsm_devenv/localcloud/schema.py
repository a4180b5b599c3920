"""Database schemas: independent command chains, run in parallel by ``up``.

Each chain is a list of argv lists run one after the other from the venv,
output appended to ``$ROOT/logs/dbsync-<chain>.log``. Chains share nothing, so
``up`` runs them in threads (the machine's cores and MariaDB do the rest).
Keystone's chain also bootstraps the admin user, the
``admin``/``member``/``reader`` roles and the identity endpoint.
"""

import subprocess

from vsm_devenv.localcloud.layout import HOST
from vsm_devenv.localcloud.layout import PASSWORD
from vsm_devenv.localcloud.layout import PORTS
from vsm_devenv.localcloud.layout import REGION
from vsm_devenv.localcloud import services


def chains(layout):
    """{chain name: [argv, ...]}."""
    v, etc = layout.venv_bin, layout.etc
    ks = [
        str(v('keystone-manage')),
        '--config-file',
        str(etc / 'keystone.conf'),
    ]
    url = f'http://{HOST}:{PORTS["keystone"]}/v3/'
    nova = [
        str(v('nova-manage')),
        '--config-file',
        str(etc / 'nova' / 'nova.conf'),
    ]
    neutron = [
        str(v('neutron-db-manage')),
        '--config-file',
        str(etc / 'neutron/neutron.conf'),
        '--config-file',
        str(etc / 'neutron' / 'ml2_conf.ini'),
    ]
    return {
        'keystone': [
            ks + ['db_sync'],
            ks
            + [
                'fernet_setup',
                '--keystone-user',
                'root',
                '--keystone-group',
                'root',
            ],
            ks
            + [
                'credential_setup',
                '--keystone-user',
                'root',
                '--keystone-group',
                'root',
            ],
            ks
            + [
                'bootstrap',
                '--bootstrap-password',
                PASSWORD,
                '--bootstrap-region-id',
                REGION,
                '--bootstrap-admin-url',
                url,
                '--bootstrap-internal-url',
                url,
                '--bootstrap-public-url',
                url,
            ],
        ],
        'nova': [
            nova + ['api_db', 'sync'],
            nova
            + [
                'cell_v2',
                'map_cell0',
                '--database_connection',
                layout.db_url('nova_cell0'),
            ],
            nova + ['cell_v2', 'create_cell', '--name', 'cell1'],
            nova + ['db', 'sync'],
        ],
        'cinder': [
            [
                str(v('cinder-manage')),
                '--config-file',
                str(etc / 'cinder' / 'cinder.conf'),
                'db',
                'sync',
            ]
        ],
        'placement': [
            [
                str(v('placement-manage')),
                '--config-file',
                str(etc / 'placement' / 'placement.conf'),
                'db',
                'sync',
            ]
        ],
        'neutron': [neutron + ['upgrade', 'heads']],
    }


def run_chain(layout, name, commands, nice=0):
    """Run one chain at priority ``nice``; raise, naming the log, on error."""
    log = layout.log(f'dbsync-{name}')
    env = services.openstack_env(layout)
    with open(log, 'ab') as out:
        for argv in commands:
            out.write(f'$ {" ".join(argv)}\n'.encode())
            out.flush()
            if nice:
                argv = ['nice', '-n', str(nice), *argv]
            if subprocess.run(
                argv, stdout=out, stderr=subprocess.STDOUT, env=env
            ).returncode:
                raise RuntimeError(
                    f'{argv[0]} {argv[-2]} {argv[-1]} failed, see {log}'
                )
