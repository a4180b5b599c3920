"""Host side of the guest's control channel (JSON lines over a virtio-serial port).

The harness listens on a UNIX socket; QEMU connects to it (``-chardev socket,path=...``)
and bridges it to the guest's virtio-serial port, where ``files/control_agent.py``
answers. This module knows the wire format only; :mod:`vsm_devenv.guest.harness`
wraps it in a friendlier API.

    chan = ControlChannel(listening_socket)
    chan.accept(timeout=30)                  # QEMU connects at startup
    hello = chan.wait_event(lambda e: e['event'] == 'hello', timeout=120)
    result = chan.call('exec', {'argv': ['uname', '-r'], 'timeout': 50}, timeout=60)

Events (``{'event': 'uevent'|'exit'|'hello', ...}``) are kept in ``events`` in arrival
order, each stamped with ``seq`` (0, 1, ...) and ``t_host`` (time.monotonic()).
"""
import itertools
import json
import threading
import time


class ControlError(RuntimeError):
    """The control agent failed a request (``.type`` is the guest-side exception name)."""

    def __init__(self, op, error, type_=None):
        super().__init__('guest %s failed: %s%s' % (op, type_ + ': ' if type_ else '', error))
        self.op = op
        self.type = type_


class ChannelClosed(ConnectionError):
    """The guest side went away (guest powered off or crashed: see the console log)."""


class ControlChannel:
    def __init__(self, listener):
        self._listener = listener
        self._conn = None
        self._ids = itertools.count(1)
        self._replies = {}
        self._cv = threading.Condition()
        self._closed = False
        self._wlock = threading.Lock()
        self.events = []

    def accept(self, timeout):
        self._listener.settimeout(timeout)
        self._conn, _ = self._listener.accept()
        self._conn.settimeout(None)
        threading.Thread(target=self._reader, name='vsm-guest-control', daemon=True).start()

    def _reader(self):
        try:
            for line in self._conn.makefile('rb'):
                if not line.strip():
                    continue
                msg = json.loads(line)
                with self._cv:
                    if 'event' in msg:
                        msg['seq'] = len(self.events)
                        msg['t_host'] = time.monotonic()
                        self.events.append(msg)
                    else:
                        self._replies[msg.get('id')] = msg
                    self._cv.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            with self._cv:
                self._closed = True
                self._cv.notify_all()

    def call(self, op, args=None, timeout=300.0):
        """Send one request and wait for its reply; returns ``result`` or raises ControlError."""
        rid = next(self._ids)
        data = json.dumps({'id': rid, 'op': op, 'args': args or {}}).encode() + b'\n'
        with self._wlock:
            if self._closed or self._conn is None:
                raise ChannelClosed('control channel is closed')
            self._conn.sendall(data)
        deadline = time.monotonic() + timeout
        with self._cv:
            while rid not in self._replies:
                if self._closed:
                    raise ChannelClosed('guest closed the control channel during %s' % op)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError('guest %s: no reply within %.0fs' % (op, timeout))
                self._cv.wait(left)
            reply = self._replies.pop(rid)
        if not reply.get('ok'):
            raise ControlError(op, reply.get('error'), reply.get('type'))
        return reply.get('result')

    def wait_event(self, pred, timeout, since=0):
        """First event with seq >= since for which pred(event) is true; TimeoutError if none."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for ev in self.events[since:]:
                    if pred(ev):
                        return ev
                since = max(since, len(self.events))
                if self._closed:
                    raise ChannelClosed('control channel closed while waiting for an event')
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError('no matching guest event within %.1fs' % timeout)
                self._cv.wait(left)

    @property
    def closed(self):
        return self._closed

    def close(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
