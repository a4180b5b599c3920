"""``up``, ``down``, ``status``: ordering, parallelism and timings.

``up`` always yields a fresh cloud: it stops a running one first, wipes
everything under the state root except the venv (and the QMP registry dir),
then:

1. installs missing Debian packages and the services venv (cached: ~0 s when
   warm);
2. writes the configs; starts RabbitMQ and MariaDB (both by hand, loopback,
   private dirs);
3. runs the schema chains of keystone, nova, cinder, placement and neutron in
   parallel; keystone is served and populated (users, catalog, limits) as soon
   as its chain is done;
4. starts each service group as soon as its own schema and Keystone are ready;
5. waits until the APIs answer, both cinder backends and nova-compute are up,
   creates the volume types and flavor, maps the compute host into cell1;
6. writes ``$ROOT/etc/localcloud.json`` (see :mod:`info`) and prints a phase
   timing table.

``down`` stops every process by the PID in ``$ROOT/run`` (whole sessions,
consumers first), unmounts the NFS bind mount and removes ``localcloud.json``.
It is safe to run at any time.
"""

import concurrent.futures
import contextlib
import hashlib
import json
import shutil
import subprocess
import threading
import time

from vsm_devenv.localcloud import config
from vsm_devenv.localcloud import info as info_mod
from vsm_devenv.localcloud import install
from vsm_devenv.localcloud.layout import HOST
from vsm_devenv.localcloud import procs
from vsm_devenv.localcloud import schema
from vsm_devenv.localcloud import services
from vsm_devenv.wait import wait_for

# The critical path of `up` is keystone (schema, bootstrap, accounts) -> nova.
# Everything else
# runs at this lower CPU priority until `up` is done, then gets normal priority
# back.
BACKGROUND_NICE = 10
CRITICAL_CHAINS = ('keystone', 'nova')
# schema chain -> processes started once it (and, for nova, Keystone) is ready
SERVICE_GROUPS = {
    'placement': ['placement_api'],
    'cinder': ['cinder_api', 'cinder-scheduler', 'cinder-volume'],
    'neutron': ['neutron_api'],
    'nova': [
        'nova_api',
        'nova_metadata',
        'nova-conductor',
        'nova-scheduler',
        'nova-compute',
    ],
}


class Timings:
    """Wall-clock phases (they may overlap when run in parallel)."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.rows = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def phase(self, name):
        start = time.monotonic()
        try:
            yield
        finally:
            end = time.monotonic()
            with self._lock:
                self.rows.append((name, start - self.t0, end - start))

    def table(self):
        lines = [f'{"phase":<44} {"start":>7} {"took":>7}']
        for name, start, took in sorted(self.rows, key=lambda r: r[1]):
            lines.append(f'{name:<44} {start:>6.1f}s {took:>6.1f}s')
        lines.append(
            f'{"total":<44} {"":>7} {time.monotonic() - self.t0:>6.1f}s'
        )
        return '\n'.join(lines)


def _run_venv_helper(layout, module, attempts=1):
    """Run ``vsm_devenv.localcloud.<module>`` in the venv; return its JSON.

    ``attempts`` > 1 only for idempotent helpers: a freshly started API
    under the parallel bring-up can drop a connection or answer 5xx once;
    every attempt's stderr stays in the helper's log.
    """
    env = services.openstack_env(layout, extra_pythonpath=True)
    env['OS_CLIENT_CONFIG_FILE'] = str(layout.clouds_yaml)
    for attempt in range(1, attempts + 1):
        with open(layout.log(module), 'ab') as err:
            err.write(f'--- {module} attempt {attempt}\n'.encode())
            err.flush()
            result = subprocess.run(
                [
                    str(layout.venv_bin('python')),
                    '-m',
                    f'vsm_devenv.localcloud.{module}',
                ],
                stdout=subprocess.PIPE,
                stderr=err,
                env=env,
            )
        if not result.returncode:
            return json.loads(result.stdout)
        if attempt < attempts:
            time.sleep(2)
    raise RuntimeError(f'{module} failed {attempts} time(s), '
                       f'see {layout.log(module)}')


def nfs_mountpoint(layout):
    """Where os-brick expects the NFS share: <mount base>/<md5 of share>."""
    share = f'{HOST}:{layout.nfs_export}'
    return layout.nfs_mnt_base / hashlib.md5(share.encode()).hexdigest()


def _is_mounted(path):
    with open('/proc/mounts') as f:
        return any(line.split()[1] == str(path) for line in f)


def _bind_mount_nfs_share(layout):
    # No NFS server: bind-mount the export where os-brick would mount the
    # share; it sees the
    # mount in /proc/mounts and skips mounting. Cinder's NfsDriver then works
    # on real files.
    mnt = nfs_mountpoint(layout)
    layout.nfs_export.mkdir(parents=True, exist_ok=True)
    mnt.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ['mount', '--bind', str(layout.nfs_export), str(mnt)], check=True
    )
    (layout.run / 'bind-mount').write_text(f'{mnt}\n')


def _prepare(layout, options):
    for d in layout.volatile_dirs():
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    layout.qmp.mkdir(parents=True, exist_ok=True)
    for sub in (
        'keystone',
        'cinder/state',
        'cinder/locks',
        'nova/state',
        'nova/instances',
        'nova/locks',
        'neutron/state',
        'neutron/locks',
        'rabbitmq',
    ):
        (layout.data / sub).mkdir(parents=True, exist_ok=True)
    config.write_all(layout, options)
    services.write_fake_sudo(layout)


def _start_group(layout, options, group):
    """Start a schema chain's processes, except nova-compute."""
    if group == 'cinder':
        _bind_mount_nfs_share(layout)
    nice = 0 if group in CRITICAL_CHAINS else BACKGROUND_NICE
    for name in SERVICE_GROUPS[group]:
        if name in services.APIS:
            services.start_api(layout, name, nice=nice)
        elif name != 'nova-compute':
            services.start_daemon(layout, name, nice=nice)


def _start_nova_compute(layout, options, timeout=120):
    # nova-compute pings nova-conductor once at start and waits 10 s if the
    # conductor's queue
    # does not exist yet; and it registers its resource provider in Placement
    # right away
    # (through Keystone's catalog), else only at the next periodic run a minute
    # later.
    # The conductor writes its service row just before it starts consuming.
    sql = ("SELECT COUNT(*) FROM nova_cell1.services "
           "WHERE `binary` = 'nova-conductor'")
    wait_for(
        lambda: (
            services.mariadb_client(layout, sql).stdout.split()[-1:] == ['1']
        ),
        timeout,
        'nova-conductor',
    )
    services.wait_api('placement_api')
    if options.nova_driver == 'qmp':
        install.install_qmp_driver_alias(str(layout.venv))
    services.start_daemon(
        layout, 'nova-compute', extra_pythonpath=options.nova_driver == 'qmp'
    )


def _discover_compute_host(layout, timeout=120):
    """Map the compute host into cell1 once its compute node record exists."""
    sql = 'SELECT COUNT(*) FROM nova_cell1.compute_nodes'
    wait_for(
        lambda: (
            services.mariadb_client(layout, sql).stdout.split()[-1:] == ['1']
        ),
        timeout,
        'the compute node record',
    )
    schema.run_chain(
        layout,
        'discover-hosts',
        [
            [
                str(layout.venv_bin('nova-manage')),
                '--config-file',
                str(layout.etc / 'nova' / 'nova.conf'),
                'cell_v2',
                'discover_hosts',
            ]
        ],
    )


def healthy(layout):
    """The info if every process runs and Keystone answers, else None."""
    cloud = info_mod.load(layout)
    if not cloud or not all(
        procs.is_running(layout, n) for n in services.STOP_ORDER
    ):
        return None
    return cloud if procs.http_status(cloud['auth_url']) else None


def reuse(layout, options, log=print):
    """Keep a healthy cloud (switching the nova driver), else ``up``."""
    cloud = healthy(layout)
    if cloud is None or cloud['metadata']['cache_expiration'] != (
        options.metadata_cache_expiration
    ):
        return up(layout, options, log)
    if options.nova_driver is None:     # not asked for: keep what runs
        options.nova_driver = cloud['nova_driver']
    if cloud['nova_driver'] != options.nova_driver:
        switch_nova_driver(layout, options, cloud, log)
    else:
        log(
            f'local cloud already up (nova driver {cloud["nova_driver"]}): '
            f'{layout.info_file}'
        )
    return cloud


def switch_nova_driver(layout, options, cloud, log=print, timeout=120):
    """Restart only nova-compute, with another driver (same host and node)."""
    t0 = time.monotonic()
    nova_conf = layout.etc / 'nova' / 'nova.conf'
    nova_conf.write_text(config.nova_conf(layout, options))
    procs.stop(layout, 'nova-compute', timeout=10)
    sql = (
        "SELECT updated_at, report_count FROM nova_cell1.services "
        "WHERE `binary` = 'nova-compute' AND deleted = 0"
    )
    before = services.mariadb_client(layout, sql).stdout
    if options.nova_driver == 'qmp':
        install.install_qmp_driver_alias(str(layout.venv))
    services.start_daemon(
        layout, 'nova-compute', extra_pythonpath=options.nova_driver == 'qmp'
    )

    # the new process updates its service record (heartbeat) once started
    def restarted():
        if not procs.is_running(layout, 'nova-compute'):
            raise RuntimeError(
                f'nova-compute died, see {layout.log("nova-compute")}'
            )
        return services.mariadb_client(layout, sql).stdout != before

    wait_for(restarted, timeout, 'nova-compute to restart')
    cloud['nova_driver'] = options.nova_driver
    info_mod.write(layout, cloud)
    log(
        f'nova-compute restarted with the {options.nova_driver} driver in '
        f'{time.monotonic() - t0:.1f}s'
    )


def up(layout, options, log=print):
    if options.nova_driver is None:
        options.nova_driver = 'fake'
    t = Timings()
    layout.root.mkdir(parents=True, exist_ok=True)
    if anything_running(layout):
        with t.phase('stop the running local cloud'):
            down(layout, log=lambda *_: None)
    with t.phase('apt packages'):
        install.ensure_apt_packages(log=log)
    with t.phase('services venv (pip)'):
        install.ensure_venv(layout, log=log)
    with t.phase('write configs'):
        _prepare(layout, options)
    with t.phase('rabbitmq launch + mariadb ready'):
        services.start_rabbitmq(layout)
        services.start_mariadb(layout)
        services.init_mariadb(layout)
    log('schemas, keystone and services (parallel)...')
    chains = schema.chains(layout)
    with concurrent.futures.ThreadPoolExecutor(len(chains)) as pool:

        def sync(name):
            with t.phase(f'db sync: {name}'):
                schema.run_chain(
                    layout,
                    name,
                    chains[name],
                    nice=(0 if name in CRITICAL_CHAINS else BACKGROUND_NICE),
                )

        def keystone():
            sync('keystone')
            with t.phase('keystone serving'):
                services.start_api(layout, 'keystone')
                services.wait_api('keystone')
            with t.phase('keystone: accounts, catalog, limits'):
                return _run_venv_helper(layout, 'keystone_setup', attempts=3)

        ks_future = pool.submit(keystone)
        sync_futures = {
            pool.submit(sync, name): name for name in SERVICE_GROUPS
        }
        with t.phase('start cinder, placement, neutron'):
            for future in concurrent.futures.as_completed(sync_futures):
                future.result()
                if sync_futures[future] != 'nova':
                    _start_group(layout, options, sync_futures[future])
        ks = ks_future.result()
    # nova's daemons authenticate with Keystone while starting: only now
    with t.phase('start nova (compute after conductor)'):
        _start_group(layout, options, 'nova')
        _start_nova_compute(layout, options)
    with t.phase('rabbitmq + APIs answering'):
        services.wait_rabbitmq()
        for name in services.APIS:
            services.wait_api(name)
    with (
        t.phase('services up; types, flavor; discover_hosts'),
        concurrent.futures.ThreadPoolExecutor(2) as pool,
    ):
        discover = pool.submit(_discover_compute_host, layout)
        resources = _run_venv_helper(layout, 'resources')
        discover.result()
    for name in services.STOP_ORDER:
        procs.renice_session(layout, name, 0)
    cloud = info_mod.build(layout, options, ks, resources)
    (layout.etc / 'vsm-oslo-limit.conf').write_text(
        config.oslo_limit_conf(ks['vsm_endpoint_id'])
    )
    info_mod.write(layout, cloud)
    (layout.root / 'timings.txt').write_text(t.table() + '\n')
    log(t.table())
    log(
        f'local cloud up: {layout.info_file}\n'
        f'  export OS_CLIENT_CONFIG_FILE={layout.clouds_yaml} OS_CLOUD=admin'
    )
    return cloud


def _known_services(layout):
    names = list(services.STOP_ORDER)
    if (
        layout.run.exists()
    ):  # anything else with a pidfile (e.g. a metadata proxy)
        names += [
            p.stem for p in layout.run.glob('*.pid') if p.stem not in names
        ]
    return names


def anything_running(layout):
    return any(
        procs.is_running(layout, n) for n in _known_services(layout)
    ) or ((layout.run / 'bind-mount').exists())


def down(layout, log=print):
    """Stop everything ``up`` started (by PID), unmount, forget the cloud."""
    t0 = time.monotonic()
    layout.info_file.unlink(missing_ok=True)
    names = _known_services(layout)
    infra = ('mariadb', 'rabbitmq', 'epmd')
    stopped = []
    # Consumers first, in parallel; then the database and the broker; epmd
    # last. Everything
    # is wiped by the next `up`, so a service that does not stop within the
    # grace period
    # (oslo.service waits up to 60 s for in-flight work) is killed.
    batches = (
        ([n for n in names if n not in infra], 10),
        (['mariadb', 'rabbitmq'], 30),
        (['epmd'], 5),
    )
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        for batch, grace in batches:
            results = pool.map(
                lambda n: (n, procs.stop(layout, n, timeout=grace)), batch
            )
            stopped += [n for n, was in results if was]
    marker = layout.run / 'bind-mount'
    if marker.exists():
        mnt = marker.read_text().strip()
        if _is_mounted(mnt):
            subprocess.run(['umount', mnt], check=True)
        marker.unlink()
    log(
        f'local cloud down: {len(stopped)} services stopped in '
        f'{time.monotonic() - t0:.1f}s'
    )


def status(layout):
    """[(name, pid or None, running, HTTP code or None)] per service."""
    rows = []
    for name in reversed(_known_services(layout)):
        pid = procs.read_pid(layout, name)
        running = procs.is_running(layout, name)
        code = (
            procs.http_status(services.api_url(name))
            if name in services.APIS
            else None
        )
        rows.append((name, pid, running, code))
    return rows
