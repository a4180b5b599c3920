"""The ``local.conf`` of the DevStack tier.

The smallest cloud VSM's scenario needs, on a 2-core machine without
hardware virtualisation or kernel modules, from the Debian and PyPI
registries only. Every choice below was measured on this kind of machine
(``doc/source/install/devstack.rst``, section "The test tier"):

* services: mysql, rabbit, keystone, placement, glance-api, neutron-server,
  nova (api, conductor, scheduler, compute, metadata), cinder (api,
  scheduler, volume) - no Horizon, noVNC, etcd, tempest;
* **neutron-server is required by Nova** even for ``--nic none``
  (otherwise the build fails with EndpointNotFound): ML2/OVS without agents
  and without initial networks;
* **glance-api is required by python-openstackclient**, which builds an
  image client eagerly in ``volume create`` and ``server create``;
* Nova's fake virt driver; Cinder's fake back end, with the driver
  subclass whose extend works (``files/fake_extend_driver.py``);
* VSM's plugin from the repository made of the checkout.
"""

from vsm_devenv.devstack import container

PASSWORD = 'secret'

LOCAL_CONF = """\
[[local|localrc]]
ADMIN_PASSWORD={password}
DATABASE_PASSWORD={password}
RABBIT_PASSWORD={password}
SERVICE_PASSWORD={password}

HOST_IP={host_ip}
SERVICE_HOST={host_ip}
GIT_BASE=file:///srv/git
DOWNLOAD_DEFAULT_IMAGES=False
INSTALL_TEMPEST=False
API_WORKERS=1
CELLSV2_SETUP=singleconductor

ENABLED_SERVICES=mysql,rabbit,key,placement-api,g-api,q-svc,n-api,n-cond,\
n-sch,n-cpu,n-api-meta,c-api,c-sch,c-vol
Q_AGENT=openvswitch
Q_ML2_PLUGIN_MECHANISM_DRIVERS=openvswitch
Q_ML2_TENANT_NETWORK_TYPE=vxlan
NEUTRON_CREATE_INITIAL_NETWORKS=False
VIRT_DRIVER=fake
CINDER_ENABLED_BACKENDS=fake:fake

LOGFILE=/opt/stack/logs/stack.sh.log
LOG_COLOR=False

enable_plugin vsm file:///srv/git/openstack/vsm.git master

[[post-config|$CINDER_CONF]]
[fake]
volume_driver = fake_extend_driver.FakeExtendableDriver
"""


def render(password: str = PASSWORD,
           host_ip: str = container.HOST_IP) -> str:
    """The local.conf text."""
    return LOCAL_CONF.format(password=password, host_ip=host_ip)
