"""Configuration files of the local cloud, as text templates.

``render_all(layout, options)`` returns ``{path under $ROOT/etc: text}`` for
every service; ``write_all`` writes them. Nothing here starts anything.
``options`` is a :class:`Options`.

VSM-specific settings (and why) are commented inline in the Nova section: the
notification options make nova-api publish ``instance.update`` on every
server-metadata write, also on the dedicated topic ``vsm_notifications``;
``[keystone_authtoken] service_type`` makes application-credential access rules
work; the metadata cache is short so tests see metadata changes in the metadata
service quickly.
"""

import dataclasses
import json

from vsm_devenv.localcloud.layout import HOST
from vsm_devenv.localcloud.layout import METADATA_SECRET
from vsm_devenv.localcloud.layout import PASSWORD
from vsm_devenv.localcloud.layout import PORTS
from vsm_devenv.localcloud.layout import REGION

# Nova's FakeDriver invents a new node UUID in every process, so a restarted
# nova-compute refuses to start; FakeDriverWithoutFakeNodes (a FakeDriver) keeps
# a stable node identity in state_path/compute_id like a real driver.
NOVA_DRIVERS = {
    'fake': 'fake.FakeDriverWithoutFakeNodes',
    'qmp': 'vsm_devenv.nova_driver.QMPFakeDriver',
}
VSM_TOPIC = 'vsm_notifications'
HOSTNAME = (
    'localcloud'  # [DEFAULT] host of every service: stable across machines
)


@dataclasses.dataclass
class Options:
    nova_driver: str = 'fake'  # key of NOVA_DRIVERS (None: see reuse)
    metadata_cache_expiration: int = 2  # seconds; Nova's default is 15
    debug: bool = False


def _auth(user, project='service'):
    return (
        f'auth_type = password\n'
        f'auth_url = http://{HOST}:{PORTS["keystone"]}/v3\n'
        f'username = {user}\npassword = {PASSWORD}\n'
        f'user_domain_name = Default\n'
        f'project_name = {project}\nproject_domain_name = Default\n'
    )


def _authtoken(user, service_type):
    return (
        f'[keystone_authtoken]\n'
        f'www_authenticate_uri = http://{HOST}:{PORTS["keystone"]}/v3\n'
        f'{_auth(user)}service_type = {service_type}\n'
        f'service_token_roles_required = true\n'
    )


def keystone_conf(layout, o):
    d = layout.data / 'keystone'
    return f"""[DEFAULT]
debug = {o.debug}
[database]
connection = {layout.db_url('keystone')}
[token]
provider = fernet
[fernet_tokens]
key_repository = {d}/fernet-keys
[fernet_receipts]
key_repository = {d}/fernet-keys
[credential]
key_repository = {d}/credential-keys
[unified_limit]
enforcement_model = flat
[identity]
# bcrypt's minimum cost: every password check (service users authenticate all
# the time)
# costs ~1 ms instead of ~0.3 s. Test cloud only.
password_hash_rounds = 4
"""


def cinder_conf(layout, o):
    d = layout.data / 'cinder'
    return f"""[DEFAULT]
debug = {o.debug}
transport_url = {layout.transport_url}
auth_strategy = keystone
host = {HOSTNAME}
my_ip = {HOST}
state_path = {d}/state
osapi_volume_listen = {HOST}
api_paste_config = {layout.etc}/cinder/api-paste.ini
resource_query_filters_file = {layout.etc}/cinder/resource_filters.json
enabled_backends = fake,nfs
default_volume_type = fake
[database]
connection = {layout.db_url('cinder')}
[oslo_messaging_notifications]
driver = messagingv2
topics = notifications,{VSM_TOPIC}
[oslo_concurrency]
lock_path = {d}/locks
[fake]
# cinder's own test driver: stores nothing, supports attach and in-use (3.42)
# extend
volume_driver = cinder.tests.fake_driver.FakeLoggingVolumeDriver
volume_backend_name = fake
target_helper = fake
[nfs]
# the real NFS driver on a bind mount (no NFS server): real sparse files that
# really grow,
# but NfsDriver refuses to extend attached volumes (bug 1870367)
volume_driver = cinder.volume.drivers.nfs.NfsDriver
volume_backend_name = nfs
nfs_shares_config = {layout.etc}/cinder/nfs_shares
nfs_mount_point_base = {layout.nfs_mnt_base}
nfs_sparsed_volumes = true
nas_secure_file_operations = false
nas_secure_file_permissions = false
{_authtoken('cinder', 'block-storage')}[nova]
# used to send Nova the 'volume-extended' external event
{_auth('cinder')}region_name = {REGION}
interface = public
"""


def placement_conf(layout, o):
    return f"""[DEFAULT]
debug = {o.debug}
[placement_database]
connection = {layout.db_url('placement')}
[api]
auth_strategy = keystone
{_authtoken('placement', 'placement')}"""


def nova_conf(layout, o):
    d = layout.data / 'nova'
    return f"""[DEFAULT]
debug = {o.debug}
transport_url = {layout.transport_url}
compute_driver = {NOVA_DRIVERS[o.nova_driver]}
host = {HOSTNAME}
my_ip = {HOST}
state_path = {d}/state
instances_path = {d}/instances
osapi_compute_listen = {HOST}
metadata_listen = {HOST}
[api]
auth_strategy = keystone
# seconds the metadata service caches an instance's answer (Nova default 15):
# short for tests
metadata_cache_expiration = {o.metadata_cache_expiration}
[wsgi]
api_paste_config = {layout.etc}/nova/api-paste.ini
[api_database]
connection = {layout.db_url('nova_api')}
[database]
connection = {layout.db_url('nova_cell1')}
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 10
[vnc]
enabled = false
[notifications]
# without notify_on_state_change nova-api emits NOTHING on server-metadata
# writes
notify_on_state_change = vm_and_task_state
notification_format = both
bdms_in_notifications = true
versioned_notifications_topics = versioned_notifications,{VSM_TOPIC}
[oslo_messaging_notifications]
driver = messagingv2
# legacy (unversioned) notifications: also on VSM's dedicated topic
topics = notifications,{VSM_TOPIC}
[glance]
# no Glance runs; legacy notifications still format an image URL even for boot-
# from-volume
endpoint_override = http://{HOST}:9292
[oslo_concurrency]
lock_path = {d}/locks
{_authtoken('nova', 'compute')}[service_user]
send_service_user_token = true
{_auth('nova')}[placement]
{_auth('placement')}region_name = {REGION}
[cinder]
{_auth('nova')}os_region_name = {REGION}
[neutron]
{_auth('neutron')}region_name = {REGION}
service_metadata_proxy = true
metadata_proxy_shared_secret = {METADATA_SECRET}
[vsm_test]
# QMPFakeDriver (vsm_devenv.nova_driver): <volume_id>.json files naming a QEMU
# QMP socket
qmp_registry_dir = {layout.qmp}
"""


def neutron_conf(layout, o):
    d = layout.data / 'neutron'
    return f"""[DEFAULT]
debug = {o.debug}
core_plugin = ml2
service_plugins = router
auth_strategy = keystone
transport_url = {layout.transport_url}
host = {HOSTNAME}
bind_host = {HOST}
state_path = {d}/state
api_paste_config = {layout.etc}/neutron/api-paste.ini
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
[database]
connection = {layout.db_url('neutron')}
[oslo_concurrency]
lock_path = {d}/locks
{_authtoken('neutron', 'network')}"""


ML2_CONF = """[ml2]
type_drivers = flat
tenant_network_types =
mechanism_drivers =
extension_drivers = port_security
[ml2_type_flat]
flat_networks = *
"""


def rabbitmq_files(layout):
    return {
        'rabbitmq/rabbitmq.conf': (
            f'listeners.tcp.default = {HOST}:{PORTS["rabbitmq"]}\n'
            'loopback_users.guest = true\n'
        ),
        'rabbitmq/enabled_plugins': '[].\n',
        'rabbitmq/rabbitmq-env.conf': '',
    }


def clouds_yaml():
    """clouds.yaml (JSON is valid YAML) with one cloud per test identity."""

    def cloud(user, project=None, system=False):
        auth = {
            'auth_url': f'http://{HOST}:{PORTS["keystone"]}/v3',
            'username': user,
            'password': PASSWORD,
            'user_domain_name': 'Default',
        }
        if system:
            auth['system_scope'] = 'all'
        else:
            auth.update(project_name=project, project_domain_name='Default')
        return {
            'auth': auth,
            'region_name': REGION,
            'identity_api_version': 3,
            'interface': 'public',
        }

    return (
        json.dumps(
            {
                'clouds': {
                    'admin': cloud('admin', 'admin'),
                    'admin-system': cloud('admin', system=True),
                    'demo': cloud('demo', 'demo'),
                    'alt': cloud('alt', 'alt'),
                    'vsm': cloud('vsm', 'service'),
                }
            },
            indent=2,
        )
        + '\n'
    )


def oslo_limit_conf(endpoint_id):
    """``[oslo_limit]`` for the vsm service user (a system reader)."""
    return f"""[oslo_limit]
auth_type = password
auth_url = http://{HOST}:{PORTS["keystone"]}/v3
username = vsm
password = {PASSWORD}
user_domain_name = Default
system_scope = all
endpoint_id = {endpoint_id}
"""


def render_all(layout, options):
    files = {
        'keystone.conf': keystone_conf(layout, options),
        'cinder/cinder.conf': cinder_conf(layout, options),
        'cinder/nfs_shares': f'{HOST}:{layout.nfs_export}\n',
        'placement/placement.conf': placement_conf(layout, options),
        'nova/nova.conf': nova_conf(layout, options),
        'neutron/neutron.conf': neutron_conf(layout, options),
        'neutron/ml2_conf.ini': ML2_CONF,
        'clouds.yaml': clouds_yaml(),
    }
    files.update(rabbitmq_files(layout))
    return files


# Files shipped inside the service packages, copied next to our configs.
PACKAGED_FILES = {
    'cinder/api-paste.ini': 'etc/cinder/api-paste.ini',
    'cinder/resource_filters.json': 'etc/cinder/resource_filters.json',
    'nova/api-paste.ini': 'etc/nova/api-paste.ini',
    'neutron/api-paste.ini': 'etc/neutron/api-paste.ini',
}


def write_all(layout, options):
    for rel, text in render_all(layout, options).items():
        path = layout.etc / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for rel, src in PACKAGED_FILES.items():
        path = layout.etc / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes((layout.venv / src).read_bytes())
