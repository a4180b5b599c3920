"""Minimal QMP (QEMU Machine Protocol) client over a UNIX socket, stdlib only.

    from vsm_devenv.guest.qmp import QMPClient, block_resize
    with QMPClient('/path/qmp.sock') as qmp:
        qmp.execute('block_resize', **{'node-name': 'vol1', 'size': 2 << 30})
    block_resize('/path/qmp.sock', 'vol1', 2 << 30)     # one-shot: connect, resize, close

``block_resize`` is exactly what libvirt's virDomainBlockResize sends, so a test Nova
compute driver can grow a test guest's disk the way Nova's libvirt driver does on
a Cinder 'volume-extended' event. A QMP socket serves ONE client at a time (others
wait in the listen queue), so connect, send, and close; don't hold it open.
"""
import json
import socket
import time


class QMPError(RuntimeError):
    """QEMU answered a command with an error (``.error`` holds its class and desc)."""

    def __init__(self, command, error):
        super().__init__('QMP %s failed: %s: %s' % (command, error.get('class'), error.get('desc')))
        self.error = error


class QMPClient:
    """One QMP session: greeting + qmp_capabilities on connect; ``execute`` returns 'return'."""

    def __init__(self, path, timeout=30.0):
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(path)
                break
            except OSError:
                sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._sock = sock
        self._file = sock.makefile('rwb')
        #: asynchronous events received while waiting for replies
        self.events = []
        self.greeting = self._read()
        self.execute('qmp_capabilities')

    def _read(self):
        line = self._file.readline()
        if not line:
            raise ConnectionError('QMP socket closed by QEMU')
        return json.loads(line)

    def execute(self, command, **arguments):
        msg = {'execute': command}
        if arguments:
            msg['arguments'] = arguments
        self._file.write(json.dumps(msg).encode() + b'\n')
        self._file.flush()
        while True:
            reply = self._read()
            if 'event' in reply:
                self.events.append(reply)
            elif 'error' in reply:
                raise QMPError(command, reply['error'])
            elif 'return' in reply:
                return reply['return']

    def close(self):
        try:
            self._file.close()
        finally:
            self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def block_resize(path, node_name, size_bytes, timeout=30.0):
    """Grow block node ``node_name`` to ``size_bytes`` (what libvirt's blockResize does)."""
    with QMPClient(path, timeout=timeout) as qmp:
        return qmp.execute('block_resize', **{'node-name': node_name, 'size': int(size_bytes)})
