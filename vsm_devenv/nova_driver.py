"""Test-only Nova driver: the fake driver, plus QMP ``block_resize``.

Nova's ``fake.FakeDriver`` accepts every volume operation and does nothing.
This subclass makes one of them real for VSM's end-to-end tests: when Cinder
extends an attached volume and Nova handles the ``volume-extended`` external
event, ``extend_volume`` resizes the disk of the QEMU test guest that plays
this volume, exactly as libvirt's ``blockResize`` would — so the guest kernel
sees a capacity change and VSM's agent can grow the filesystem.

Use: ``compute_driver = vsm_devenv.nova_driver.QMPFakeDriver`` in nova.conf
(the local cloud does this with ``python -m vsm_devenv.localcloud up
--nova-driver qmp``, which also puts this repository on nova-compute's
``PYTHONPATH``).

Registry: whoever starts a QEMU guest for a volume writes
``<qmp_registry_dir>/<volume_id>.json`` = ``{"qmp_socket": "/path/qmp.sock",
"node_name": "vol"}`` (``register_volume`` below does it atomically) and
removes it when the guest stops. ``[vsm_test] qmp_registry_dir`` defaults to
``$VSM_LOCALCLOUD_ROOT/qmp`` (``/var/tmp/vsm-localcloud/qmp``). Volumes without
a registry file behave as with the plain fake driver. Only the standard library
speaks QMP here (one short-lived unix-socket connection per resize); importing
this module without Nova installed gives the QMP helpers only.
"""

import json
import logging
import os
import pathlib
import socket

LOG = logging.getLogger(__name__)
DEFAULT_REGISTRY_DIR = os.path.join(
    os.environ.get('VSM_LOCALCLOUD_ROOT', '/var/tmp/vsm-localcloud'), 'qmp'
)


class QMPError(Exception):
    """QEMU answered a QMP command with an error, or the conversation broke."""


def qmp_command(socket_path, command, arguments=None, timeout=10.0):
    """Run one QMP command on a QEMU monitor socket; return its result."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(socket_path))
        stream = sock.makefile('rwb')

        def receive():
            # skip asynchronous events; the next non-event message is our
            # answer
            while True:
                line = stream.readline()
                if not line:
                    raise QMPError(f'QMP socket {socket_path} closed')
                msg = json.loads(line)
                if 'event' not in msg:
                    return msg

        def send(cmd, args=None):
            msg = {'execute': cmd}
            if args is not None:
                msg['arguments'] = args
            stream.write(json.dumps(msg).encode() + b'\n')
            stream.flush()
            reply = receive()
            if 'error' in reply:
                raise QMPError(
                    f'{cmd}: {reply["error"].get("desc", reply["error"])}'
                )
            return reply.get('return')

        greeting = receive()
        if 'QMP' not in greeting:
            raise QMPError(f'not a QMP greeting: {greeting}')
        send('qmp_capabilities')
        return send(command, arguments)


def block_resize(socket_path, node_name, size_bytes, timeout=10.0):
    """Resize a running QEMU's block node (what libvirt's blockResize does)."""
    qmp_command(
        socket_path,
        'block_resize',
        {'node-name': node_name, 'size': int(size_bytes)},
        timeout,
    )


def register_volume(registry_dir, volume_id, qmp_socket, node_name):
    """Tell QMPFakeDriver which QEMU disk plays ``volume_id`` (atomic)."""
    registry = pathlib.Path(registry_dir)
    registry.mkdir(parents=True, exist_ok=True)
    tmp = registry / f'.{volume_id}.json.tmp'
    tmp.write_text(
        json.dumps({'qmp_socket': str(qmp_socket), 'node_name': node_name})
    )
    tmp.replace(registry / f'{volume_id}.json')


def unregister_volume(registry_dir, volume_id):
    (pathlib.Path(registry_dir) / f'{volume_id}.json').unlink(missing_ok=True)


def lookup_volume(registry_dir, volume_id):
    """The registry entry of ``volume_id`` as a dict, or None."""
    try:
        return json.loads(
            (pathlib.Path(registry_dir) / f'{volume_id}.json').read_text()
        )
    except FileNotFoundError:
        return None


def volume_id_of(connection_info):
    """Cinder volume id of a connection_info (Nova stores it as ``serial``)."""
    return connection_info.get('serial') or (
        connection_info.get('data') or {}
    ).get('volume_id')


def resize_registered_volume(registry_dir, connection_info, requested_size):
    """QMP-resize the registered guest disk; False if not registered."""
    volume_id = volume_id_of(connection_info)
    entry = volume_id and lookup_volume(registry_dir, volume_id)
    if not entry:
        return False
    LOG.info(
        'QMP block_resize of volume %s (socket %s, node %s) to %d bytes',
        volume_id,
        entry['qmp_socket'],
        entry['node_name'],
        requested_size,
    )
    block_resize(entry['qmp_socket'], entry['node_name'], requested_size)
    return True


try:
    from nova.virt import fake as _nova_fake
    from oslo_config import cfg as _cfg
except ImportError:  # the QMP helpers stay usable without Nova
    _nova_fake = None

if _nova_fake is not None:
    _OPTS = [
        _cfg.StrOpt(
            'qmp_registry_dir',
            default=DEFAULT_REGISTRY_DIR,
            help='Directory of <volume_id>.json files naming the QMP '
            'socket and '
            'block node of the QEMU test guest that plays the volume.',
        )
    ]
    _cfg.CONF.register_opts(_OPTS, group='vsm_test')

    class QMPFakeDriver(_nova_fake.FakeDriverWithoutFakeNodes):
        """FakeDriver whose extend_volume resizes a registered QEMU disk.

        Based on FakeDriverWithoutFakeNodes (a FakeDriver with a stable node
        identity), so that nova-compute can be restarted.
        """

        def extend_volume(
            self, context, connection_info, instance, requested_size
        ):
            # requested_size: the volume's new size in bytes (nova 34 passes
            # GiB * units.Gi)
            if not resize_registered_volume(
                _cfg.CONF.vsm_test.qmp_registry_dir,
                connection_info,
                requested_size,
            ):
                LOG.debug(
                    'volume %s of instance %s not in the QMP registry: '
                    'fake extend',
                    volume_id_of(connection_info),
                    instance.uuid,
                )
                super().extend_volume(
                    context, connection_info, instance, requested_size
                )
