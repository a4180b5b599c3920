"""A fake QEMU monitor (QMP over a unix socket) for QMPFakeDriver's tests.

Serves one connection: greeting, ``qmp_capabilities`` (answered after an
asynchronous event, which clients must skip), then records every command in
``commands`` and answers ``{"return": {}}`` (or the error ``fail_with``).
Used by the unit tests and by the functional test of ``--nova-driver qmp``.
"""

import json
import socket
import threading


class FakeQMPServer:
    """Just enough QMP: greeting, capabilities, an event; records commands."""

    def __init__(self, path, fail_with=None):
        self.path, self.fail_with, self.commands = path, fail_with, []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.sock.accept()
        with conn, conn.makefile('rwb') as f:

            def say(msg):
                f.write(json.dumps(msg).encode() + b'\r\n')
                f.flush()

            say(
                {
                    'QMP': {
                        'version': {'qemu': {'major': 7}},
                        'capabilities': [],
                    }
                }
            )
            for line in f:
                cmd = json.loads(line)
                self.commands.append(cmd)
                if cmd['execute'] == 'qmp_capabilities':
                    say(
                        {'event': 'RESUME', 'data': {}}
                    )  # events must be skipped
                    say({'return': {}})
                elif self.fail_with:
                    say(
                        {
                            'error': {
                                'class': 'GenericError',
                                'desc': self.fail_with,
                            }
                        }
                    )
                else:
                    say({'return': {}})

    def close(self):
        self.sock.close()
