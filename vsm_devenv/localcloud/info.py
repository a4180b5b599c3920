"""``$ROOT/etc/localcloud.json``: the running cloud, machine-readable.

``up`` writes it last (so its presence means the bring-up finished); ``down``
removes it. Tests read it through
:class:`vsm_devenv.localcloud.fixture.LocalCloud`; shell users through ``python
-m vsm_devenv.localcloud env [--json]``. Keys (all strings unless noted):

- ``root``, ``venv``, ``venv_python``, ``log_dir``, ``nova_driver``,
  ``qmp_registry_dir``
- ``auth_url``, ``region``, ``clouds_yaml`` and ``clouds`` (list of cloud names
  in it: ``admin``, ``admin-system``, ``demo``, ``alt``, ``vsm``), ``password``
  (all users)
- ``projects`` / ``users``: ``{name: id}``
- ``transport_url`` (RabbitMQ), ``notifications``: ``{exchange, topic,
  cinder_exchange}``
- ``mariadb``: ``{url_template (format with database=...), host, port (int),
  user, socket}`` (user root, password ``password`` over TCP)
- ``vsm``: ``{service_id, endpoint_id, endpoint_url, limit_resource,
  limit_default, oslo_limit_config (path of an [oslo_limit] config file for the
  vsm user)}``
- ``metadata``: ``{url, shared_secret, cache_expiration (int, s)}``
- ``volume_types``: ``{name: id}`` (``fake``: in-use extend; ``nfs``: real
  files), ``flavor``: ``{name, id}``
- ``endpoints``: ``{service: url}`` (keystone, nova, cinder, placement,
  neutron)
"""

import json

from vsm_devenv.localcloud import config
from vsm_devenv.localcloud.layout import HOST
from vsm_devenv.localcloud.layout import METADATA_SECRET
from vsm_devenv.localcloud.layout import PASSWORD
from vsm_devenv.localcloud.layout import PORTS
from vsm_devenv.localcloud.layout import REGION

CLOUDS = ('admin', 'admin-system', 'demo', 'alt', 'vsm')


def build(layout, options, keystone, resources):
    """The info dict from layout, options and the setup helpers' results."""
    return {
        'root': str(layout.root),
        'venv': str(layout.venv),
        'venv_python': str(layout.venv_bin('python')),
        'log_dir': str(layout.logs),
        'nova_driver': options.nova_driver,
        'qmp_registry_dir': str(layout.qmp),
        'auth_url': f'http://{HOST}:{PORTS["keystone"]}/v3',
        'region': REGION,
        'clouds_yaml': str(layout.clouds_yaml),
        'clouds': list(CLOUDS),
        'password': PASSWORD,
        'projects': keystone['projects'],
        'users': keystone['users'],
        'transport_url': layout.transport_url,
        'notifications': {
            'exchange': 'nova',
            'topic': config.VSM_TOPIC,
            'cinder_exchange': 'openstack',
        },
        'mariadb': {
            'url_template': layout.db_url('{database}'),
            'host': HOST,
            'port': PORTS['mariadb'],
            'user': 'root',
            'socket': str(layout.mariadb_socket),
        },
        'vsm': {
            'service_id': keystone['vsm_service_id'],
            'endpoint_id': keystone['vsm_endpoint_id'],
            'endpoint_url': f'http://{HOST}:{PORTS["vsm"]}',
            'limit_resource': keystone['limit']['resource_name'],
            'limit_default': keystone['limit']['default'],
            'oslo_limit_config': str(layout.etc / 'vsm-oslo-limit.conf'),
        },
        'metadata': {
            'url': f'http://{HOST}:{PORTS["nova_metadata"]}',
            'shared_secret': METADATA_SECRET,
            'cache_expiration': options.metadata_cache_expiration,
        },
        'volume_types': resources['volume_types'],
        'flavor': resources['flavor'],
        'endpoints': {
            'keystone': f'http://{HOST}:{PORTS["keystone"]}/v3',
            'nova': f'http://{HOST}:{PORTS["nova_api"]}/v2.1',
            'cinder': f'http://{HOST}:{PORTS["cinder_api"]}/v3',
            'placement': f'http://{HOST}:{PORTS["placement_api"]}',
            'neutron': f'http://{HOST}:{PORTS["neutron_api"]}',
        },
    }


def write(layout, info):
    tmp = layout.info_file.with_suffix('.tmp')
    tmp.write_text(json.dumps(info, indent=2, sort_keys=True) + '\n')
    tmp.replace(layout.info_file)


def load(layout):
    """The info dict, or None if the cloud is not up."""
    try:
        return json.loads(layout.info_file.read_text())
    except FileNotFoundError:
        return None
