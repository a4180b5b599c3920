"""Command line: ``python -m vsm_devenv.localcloud`` (from the checkout).

    up      [--reuse] [--nova-driver fake|qmp] [--metadata-cache-expiration S]
            [--debug]
            a fresh cloud (stops a running one first); installs what is
            missing; prints timings; --reuse keeps a healthy running cloud
            (switching only nova-compute's driver if needed)
    down    stop everything by PID, unmount; safe to repeat
    status  per-process state and HTTP answer; exit 1 unless everything runs
    env     shell exports (``eval "$(... env)"``); ``--json``: localcloud.json

All state is under ``--root`` / ``$VSM_LOCALCLOUD_ROOT`` (default
/var/tmp/vsm-localcloud). ``up`` and ``down`` need root (apt, mount, services
run as root).
"""

import argparse
import contextlib
import fcntl
import json
import shlex
import sys

from vsm_devenv.localcloud import bringup
from vsm_devenv.localcloud import config
from vsm_devenv.localcloud import info as info_mod
from vsm_devenv.localcloud.layout import Layout


def _log(msg):
    print(msg, flush=True)


@contextlib.contextmanager
def _exclusive(layout):
    """Serialize up/down: several test runs may share one state root."""
    layout.root.mkdir(parents=True, exist_ok=True)
    with open(layout.root / 'lock', 'w') as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _log('waiting for another vsm-localcloud up/down to finish...')
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def cmd_up(layout, args):
    with _exclusive(layout):
        return _up(layout, args)


def _up(layout, args):
    options = config.Options(
        nova_driver=args.nova_driver,
        debug=args.debug,
        metadata_cache_expiration=args.metadata_cache_expiration,
    )
    try:
        (bringup.reuse if args.reuse else bringup.up)(
            layout, options, log=_log
        )
    except Exception as e:
        _log(
            f'\nlocal cloud bring-up FAILED: {e}\n  logs: {layout.logs}\n'
            f'  processes may still run: python -m vsm_devenv.localcloud down'
        )
        return 1
    return 0


def cmd_down(layout, args):
    with _exclusive(layout):
        bringup.down(layout, log=_log)
    return 0


def cmd_status(layout, args):
    ok = True
    for name, pid, running, code in bringup.status(layout):
        state = 'running' if running else 'stopped'
        http = f'HTTP {code}' if code else ''
        _log(f'{name:<18} {pid or "-":>8}  {state:<8} {http}')
        ok = ok and running
    cloud = info_mod.load(layout)
    _log(
        f'localcloud.json: {layout.info_file if cloud else "absent (not up)"}'
    )
    return 0 if ok and cloud else 1


def cmd_env(layout, args):
    cloud = info_mod.load(layout)
    if not cloud:
        _log(
            f'# local cloud not up under {layout.root}: '
            f'run python -m vsm_devenv.localcloud up'
        )
        return 1
    if args.json:
        print(json.dumps(cloud, indent=2, sort_keys=True))
        return 0
    exports = {
        'VSM_LOCALCLOUD_ROOT': cloud['root'],
        'OS_CLIENT_CONFIG_FILE': cloud['clouds_yaml'],
        'OS_CLOUD': 'admin',
        'VSM_LOCALCLOUD_TRANSPORT_URL': cloud['transport_url'],
        'VSM_LOCALCLOUD_METADATA_URL': cloud['metadata']['url'],
        'VSM_LOCALCLOUD_VENV': cloud['venv'],
    }
    for key, value in exports.items():
        print(f'export {key}={shlex.quote(value)}')
    return 0


def parser():
    p = argparse.ArgumentParser(
        prog='python -m vsm_devenv.localcloud', description=__doc__.split('\n')[0]
    )
    p.add_argument(
        '--root',
        help='state root (default $VSM_LOCALCLOUD_ROOT or '
        '/var/tmp/vsm-localcloud)',
    )
    sub = p.add_subparsers(dest='command', required=True)
    up = sub.add_parser('up', help='bring a fresh local cloud up')
    up.add_argument(
        '--nova-driver',
        choices=sorted(config.NOVA_DRIVERS),
        help='fake (default for a new cloud; with --reuse: whatever runs) or '
        'qmp: vsm_devenv.nova_driver.QMPFakeDriver (resizes QEMU test '
        'guests\' disks on volume-extended)',
    )
    up.add_argument(
        '--metadata-cache-expiration',
        type=int,
        default=2,
        metavar='SECONDS',
        help="nova [api] metadata_cache_expiration (Nova's default: 15)",
    )
    up.add_argument(
        '--debug', action='store_true', help='debug logging in every service'
    )
    up.add_argument(
        '--reuse',
        action='store_true',
        help='keep the running cloud if it is healthy (restarting only '
        'nova-compute if --nova-driver differs); else a fresh one',
    )
    up.set_defaults(func=cmd_up)
    sub.add_parser('down', help='stop everything').set_defaults(func=cmd_down)
    sub.add_parser('status', help='show processes').set_defaults(
        func=cmd_status
    )
    env = sub.add_parser('env', help='print shell exports')
    env.add_argument(
        '--json', action='store_true', help='print localcloud.json'
    )
    env.set_defaults(func=cmd_env)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    return args.func(Layout(args.root), args)


if __name__ == '__main__':
    sys.exit(main())
