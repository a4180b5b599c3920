"""Keystone content of the local cloud: projects, users, roles, catalog, unified limits.

Run by ``up`` inside the services venv (it needs openstacksdk), as the bootstrap admin:

    OS_CLIENT_CONFIG_FILE=$ROOT/etc/clouds.yaml $ROOT/venv/bin/python \
        -m vsm_devenv.localcloud.keystone_setup

It prints one JSON object (ids of the projects, users and the vsm endpoint) on stdout.
Idempotent (find-or-create), although ``up`` always runs it on an empty database.

What it creates, and why:

- projects ``service``, ``demo``, ``alt``; users ``demo`` and ``alt`` with role ``member`` on
  their project (``alt`` exists for cross-project forgery tests);
- service users ``nova cinder placement neutron`` (roles ``admin`` + ``service`` on
  ``service``), and ``vsm`` (``admin`` + ``service`` on ``service``, plus **system reader**:
  oslo.limit reads endpoints and limits with a system-scoped token);
- catalog entries for every API and for ``vsm`` (``http://127.0.0.1:8790``): oslo.limit finds
  its limits through the vsm endpoint even though nothing listens there yet;
- registered limit ``vsm_storage_gigabytes`` = 1000 in RegionOne for service ``vsm``.
"""

import json
import sys

import openstack

from vsm_devenv.localcloud.layout import HOST, PASSWORD, PORTS, REGION

LIMIT_RESOURCE = 'vsm_storage_gigabytes'
LIMIT_DEFAULT = 1000
SERVICE_USERS = ('nova', 'cinder', 'placement', 'neutron', 'vsm')
CATALOG = (  # (name, type, url)
    ('nova', 'compute', f'http://{HOST}:{PORTS["nova_api"]}/v2.1'),
    ('cinder', 'block-storage', f'http://{HOST}:{PORTS["cinder_api"]}/v3/%(project_id)s'),
    ('cinderv3', 'volumev3', f'http://{HOST}:{PORTS["cinder_api"]}/v3/%(project_id)s'),
    ('placement', 'placement', f'http://{HOST}:{PORTS["placement_api"]}'),
    ('neutron', 'network', f'http://{HOST}:{PORTS["neutron_api"]}'),
    ('vsm', 'vsm', f'http://{HOST}:{PORTS["vsm"]}'),
)


def _project(idn, name):
    return idn.find_project(name) or idn.create_project(name=name, domain_id='default')


def _user(idn, name):
    return idn.find_user(name) or idn.create_user(name=name, password=PASSWORD,
                                                  domain_id='default')


def setup(conn):
    idn = conn.identity
    roles = {n: idn.find_role(n) or idn.create_role(name=n)
             for n in ('admin', 'member', 'reader', 'service')}
    projects = {n: _project(idn, n) for n in ('service', 'demo', 'alt')}
    users = {}
    for name in ('demo', 'alt'):
        users[name] = _user(idn, name)
        idn.assign_project_role_to_user(projects[name], users[name], roles['member'])
    for name in SERVICE_USERS:
        users[name] = _user(idn, name)
        for role in ('admin', 'service'):
            idn.assign_project_role_to_user(projects['service'], users[name], roles[role])
    idn.assign_system_role_to_user(user=users['vsm'], role=roles['reader'], system='all')

    endpoints = {}
    for name, type_, url in CATALOG:
        svc = idn.find_service(name) or idn.create_service(name=name, type=type_)
        existing = {e.interface: e for e in idn.endpoints(service_id=svc.id)}
        for interface in ('public', 'internal', 'admin'):
            if interface not in existing:
                existing[interface] = idn.create_endpoint(
                    service_id=svc.id, interface=interface, url=url, region_id=REGION)
        endpoints[name] = (svc.id, existing['public'].id)

    vsm_service_id, vsm_endpoint_id = endpoints['vsm']
    if not list(idn.registered_limits(service_id=vsm_service_id,
                                      resource_name=LIMIT_RESOURCE)):
        idn.create_registered_limit(service_id=vsm_service_id, resource_name=LIMIT_RESOURCE,
                                    default_limit=LIMIT_DEFAULT, region_id=REGION)
    return {
        'projects': {n: p.id for n, p in projects.items()},
        'users': {n: u.id for n, u in users.items()},
        'vsm_service_id': vsm_service_id,
        'vsm_endpoint_id': vsm_endpoint_id,
        'limit': {'resource_name': LIMIT_RESOURCE, 'default': LIMIT_DEFAULT},
    }


def main():
    result = setup(openstack.connect(cloud='admin'))
    json.dump(result, sys.stdout)


if __name__ == '__main__':
    main()
