"""Keystone content: projects, users, roles, catalog, unified limits.

Run by ``up`` inside the services venv (it needs openstacksdk), as the
bootstrap admin:

    OS_CLIENT_CONFIG_FILE=$ROOT/etc/clouds.yaml $ROOT/venv/bin/python \
        -m vsm_devenv.localcloud.keystone_setup

It prints one JSON object (ids of the projects, users and the vsm endpoint) on
stdout. Idempotent (lists once, creates what is missing, in parallel: a few
seconds), although ``up`` always runs it on an empty database.

What it creates, and why:

- projects ``service``, ``demo``, ``alt``; users ``demo`` and ``alt`` with role
  ``member`` on their project (``alt`` exists for cross-project forgery tests);
- service users ``nova cinder placement neutron`` (roles ``admin`` +
  ``service`` on ``service``), and ``vsm`` (``admin`` + ``service`` on
  ``service``, plus **system reader**: oslo.limit reads endpoints and limits
  with a system-scoped token);
- catalog entries for every API and for ``vsm`` (``http://127.0.0.1:8790``):
  oslo.limit finds its limits through the vsm endpoint even though nothing
  listens there yet;
- registered limit ``vsm_storage_gigabytes`` = 1000 in RegionOne for service
  ``vsm``.
"""

import concurrent.futures
import json
import sys

import openstack

from vsm_devenv.localcloud.layout import HOST
from vsm_devenv.localcloud.layout import PASSWORD
from vsm_devenv.localcloud.layout import PORTS
from vsm_devenv.localcloud.layout import REGION

LIMIT_RESOURCE = 'vsm_storage_gigabytes'
LIMIT_DEFAULT = 1000
SERVICE_USERS = ('nova', 'cinder', 'placement', 'neutron', 'vsm')
CATALOG = {  # name: (type, url)
    'nova': ('compute', f'http://{HOST}:{PORTS["nova_api"]}/v2.1'),
    'cinder': (
        'block-storage',
        f'http://{HOST}:{PORTS["cinder_api"]}/v3/%(project_id)s',
    ),
    'cinderv3': (
        'volumev3',
        f'http://{HOST}:{PORTS["cinder_api"]}/v3/%(project_id)s',
    ),
    'placement': ('placement', f'http://{HOST}:{PORTS["placement_api"]}'),
    'neutron': ('network', f'http://{HOST}:{PORTS["neutron_api"]}'),
    'vsm': ('vsm', f'http://{HOST}:{PORTS["vsm"]}'),
}
PARALLEL = 8  # keystone serves with 2 workers x 4 threads


def _find_or_create(existing, create, names, **attrs):
    """{name: resource}, creating the missing ones (in parallel)."""
    found = {r.name: r for r in existing if r.name in names}
    missing = [n for n in names if n not in found]
    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
        for name, res in zip(
            missing, pool.map(lambda n: create(name=n, **attrs), missing)
        ):
            found[name] = res
    return found


def setup(conn):
    """Create what is missing; return the ids ``up`` records."""
    idn = conn.identity
    roles = _find_or_create(
        idn.roles(), idn.create_role, ('admin', 'member', 'reader', 'service')
    )
    projects = _find_or_create(
        idn.projects(),
        idn.create_project,
        ('service', 'demo', 'alt'),
        domain_id='default',
    )
    users = _find_or_create(
        idn.users(),
        idn.create_user,
        ('demo', 'alt') + SERVICE_USERS,
        domain_id='default',
        password=PASSWORD,
    )
    assignments = [
        (projects[n], users[n], roles['member']) for n in ('demo', 'alt')
    ]
    assignments += [
        (projects['service'], users[n], roles[r])
        for n in SERVICE_USERS
        for r in ('admin', 'service')
    ]
    services = _find_or_create(
        idn.services(),
        lambda name: idn.create_service(name=name, type=CATALOG[name][0]),
        tuple(CATALOG),
    )
    have = {(e.service_id, e.interface) for e in idn.endpoints()}
    endpoints = [
        (services[n], i)
        for n in CATALOG
        for i in ('public', 'internal', 'admin')
        if (services[n].id, i) not in have
    ]
    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
        jobs = [
            pool.submit(idn.assign_project_role_to_user, *a)
            for a in assignments
        ]
        jobs.append(
            pool.submit(
                idn.assign_system_role_to_user,
                user=users['vsm'],
                role=roles['reader'],
                system='all',
            )
        )
        jobs += [
            pool.submit(
                idn.create_endpoint,
                service_id=svc.id,
                interface=i,
                url=CATALOG[svc.name][1],
                region_id=REGION,
            )
            for svc, i in endpoints
        ]
        for job in jobs:
            job.result()

    vsm_service_id = services['vsm'].id
    vsm_endpoint_id = next(
        e.id
        for e in idn.endpoints(service_id=vsm_service_id, interface='public')
    )
    if not list(
        idn.registered_limits(
            service_id=vsm_service_id, resource_name=LIMIT_RESOURCE
        )
    ):
        idn.create_registered_limit(
            service_id=vsm_service_id,
            resource_name=LIMIT_RESOURCE,
            default_limit=LIMIT_DEFAULT,
            region_id=REGION,
        )
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
