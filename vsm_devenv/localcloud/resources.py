"""Last phase of ``up``: wait until the cloud can boot; shared resources.

Run inside the services venv as the bootstrap admin:

    OS_CLIENT_CONFIG_FILE=$ROOT/etc/clouds.yaml $ROOT/venv/bin/python \
        -m vsm_devenv.localcloud.resources

Waits for both cinder-volume backends (``localcloud@fake``, ``localcloud@nfs``)
to report ``up`` and their pools to reach the scheduler, for nova-compute and
for the fake hypervisor to appear, then
creates the volume types ``fake`` (in-use extend works) and ``nfs`` (real
files, detached extend only) and the flavor ``m1.tiny`` (disk 0: boot from
volume only). Prints a JSON object with their ids.
"""

import json
import sys
import time

import openstack

VOLUME_TYPES = ('fake', 'nfs')
FLAVOR = 'm1.tiny'


def wait_for_services(conn, timeout=180):
    deadline = time.monotonic() + timeout
    while True:
        volume = {
            s.host
            for s in conn.block_storage.services()
            if s.binary == 'cinder-volume' and s.state == 'up'
        }
        compute = {
            s.binary for s in conn.compute.services() if s.state == 'up'
        }
        # A fresh cinder-volume is 'up' before the scheduler has its
        # capabilities; until then every create fails (CapabilitiesFilter).
        pools = {p.name.split('#')[0]
                 for p in conn.block_storage.backend_pools()}
        ready = (
            len(volume) == len(VOLUME_TYPES)
            and volume <= pools
            and {'nova-compute', 'nova-scheduler', 'nova-conductor'} <= compute
            and any(True for _ in conn.compute.hypervisors())
        )
        if ready:
            return
        print(
            f'waiting: cinder-volume up {sorted(volume)}, '
            f'scheduler pools {sorted(pools)}, '
            f'nova up {sorted(compute)}',
            file=sys.stderr,
            flush=True,
        )
        if time.monotonic() > deadline:
            raise SystemExit(
                f'services not up after {timeout}s: cinder-volume up on '
                f'{sorted(volume)}, nova up: {sorted(compute)}'
            )
        time.sleep(0.5)


def create_resources(conn):
    types = {}
    for name in VOLUME_TYPES:
        vt = conn.block_storage.find_type(
            name
        ) or conn.block_storage.create_type(
            name=name, extra_specs={'volume_backend_name': name}
        )
        types[name] = vt.id
    flavor = conn.compute.find_flavor(FLAVOR) or conn.compute.create_flavor(
        name=FLAVOR, ram=512, vcpus=1, disk=0
    )
    return {'volume_types': types, 'flavor': {'name': FLAVOR, 'id': flavor.id}}


def main():
    conn = openstack.connect(cloud='admin')
    wait_for_services(conn)
    json.dump(create_resources(conn), sys.stdout)


if __name__ == '__main__':
    main()
