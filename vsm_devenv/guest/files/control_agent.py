#!/usr/bin/python3
"""Control agent of the VSM test guest: test plumbing, like a QEMU guest agent.

Runs inside the guest (started by /init, stdlib only) and serves JSON lines on a
virtio-serial port found by name under /sys/class/virtio-ports/*/name (no udev).
It is *not* the VSM agent: it only lets the host drive the guest.

host -> guest  {"id": 7, "op": "<op>", "args": {...}}
guest -> host  {"id": 7, "ok": true, "result": {...}}
               {"id": 7, "ok": false, "error": "text", "type": "ExceptionName"}
               {"event": "hello", "uptime": s, "pid": n}
               {"event": "uevent", "uptime": s, "header": "change@/devices/...", "env": {...}}
               {"event": "exit", "pid": n, "rc": n}          (a spawned process ended)

ops (each request runs in its own thread; replies may come out of order):
  ping                                        -> {uptime}
  exec  argv|shell, env, cwd, timeout, input  -> {rc, stdout, stderr, duration, timed_out}
  spawn argv|shell, env, cwd, log             -> {pid, log}   (stdout+stderr -> log file)
  poll  pid                                   -> {running, rc}
  kill  pid, signal=15                        -> {}
  read_file  path                             -> {data_b64}
  write_file path, data_b64, mode=0o644, append=False -> {size}
  poweroff                                    -> {} then the agent exits and /init powers off

Block uevents (NETLINK_KOBJECT_UEVENT, group 1, SUBSYSTEM=block) are pushed as
events as soon as the kernel emits them, e.g. ACTION=change with RESIZE=1 after a
QMP block_resize.
"""
import argparse
import base64
import glob
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

NETLINK_KOBJECT_UEVENT = 15


def uptime():
    with open('/proc/uptime') as f:
        return float(f.read().split()[0])


def find_port(name, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        for path in glob.glob('/sys/class/virtio-ports/*/name'):
            with open(path) as f:
                if f.read().strip() == name:
                    return '/dev/' + path.split('/')[-2]
        if time.monotonic() > deadline:
            raise SystemExit('control agent: no virtio-serial port named %r' % name)
        time.sleep(0.1)


class Agent:
    def __init__(self, port_path):
        self.fd = os.open(port_path, os.O_RDWR)
        self.wlock = threading.Lock()
        self.procs = {}
        self.done = threading.Event()

    def send(self, obj):
        data = (json.dumps(obj) + '\n').encode()
        with self.wlock:
            while data:
                data = data[os.write(self.fd, data):]

    # ---- ops -------------------------------------------------------------------------
    @staticmethod
    def _cmd(args):
        if args.get('shell') is not None:
            return ['/bin/sh', '-c', args['shell']]
        return list(args['argv'])

    @staticmethod
    def _env(args):
        env = dict(os.environ)
        env.update(args.get('env') or {})
        return env

    def op_ping(self, args):
        return {'uptime': uptime()}

    def op_exec(self, args):
        t0 = time.monotonic()
        inp = args.get('input')
        proc = subprocess.Popen(self._cmd(args), env=self._env(args), cwd=args.get('cwd'),
                                stdin=subprocess.PIPE if inp is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        timed_out = False
        try:
            out, err = proc.communicate(inp.encode() if inp is not None else None,
                                        timeout=args.get('timeout'))
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        return {'rc': proc.returncode, 'stdout': out.decode(errors='replace'),
                'stderr': err.decode(errors='replace'), 'timed_out': timed_out,
                'duration': round(time.monotonic() - t0, 3)}

    def op_spawn(self, args):
        log = args.get('log') or '/tmp/spawn-%d.log' % time.monotonic_ns()
        with open(log, 'ab') as out:
            proc = subprocess.Popen(self._cmd(args), env=self._env(args), cwd=args.get('cwd'),
                                    stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[proc.pid] = proc

        def reap():
            rc = proc.wait()
            self.send({'event': 'exit', 'pid': proc.pid, 'rc': rc, 'uptime': uptime()})

        threading.Thread(target=reap, daemon=True).start()
        return {'pid': proc.pid, 'log': log}

    def op_poll(self, args):
        proc = self.procs[args['pid']]
        rc = proc.poll()
        return {'running': rc is None, 'rc': rc}

    def op_kill(self, args):
        os.kill(args['pid'], args.get('signal', signal.SIGTERM))
        return {}

    def op_read_file(self, args):
        with open(args['path'], 'rb') as f:
            return {'data_b64': base64.b64encode(f.read()).decode()}

    def op_write_file(self, args):
        data = base64.b64decode(args['data_b64'])
        path = args['path']
        os.makedirs(os.path.dirname(path) or '/', exist_ok=True)
        with open(path, 'ab' if args.get('append') else 'wb') as f:
            f.write(data)
        os.chmod(path, args.get('mode', 0o644))
        return {'size': os.path.getsize(path)}

    def op_poweroff(self, args):
        self.done.set()
        return {}

    # ---- loops -----------------------------------------------------------------------
    def handle(self, req):
        rid = req.get('id')
        try:
            fn = getattr(self, 'op_' + str(req.get('op')), None)
            if fn is None:
                raise ValueError('unknown op %r' % req.get('op'))
            reply = {'id': rid, 'ok': True, 'result': fn(req.get('args') or {})}
        except Exception as e:  # report every failure to the host, never die
            reply = {'id': rid, 'ok': False, 'error': str(e), 'type': type(e).__name__}
        self.send(reply)

    def read_loop(self):
        buf = b''
        while not self.done.is_set():
            chunk = os.read(self.fd, 65536)
            if not chunk:        # host side not connected: don't spin
                time.sleep(0.2)
                continue
            buf += chunk
            while b'\n' in buf:
                line, buf = buf.split(b'\n', 1)
                if line.strip():
                    req = json.loads(line)
                    threading.Thread(target=self.handle, args=(req,), daemon=True).start()

    def uevent_loop(self):
        nl = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_KOBJECT_UEVENT)
        nl.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        nl.bind((0, 1))   # group 1: kernel uevents, what udevd would receive
        while True:
            parts = nl.recv(65536).split(b'\0')
            env = dict(p.decode(errors='replace').split('=', 1) for p in parts[1:] if b'=' in p)
            if env.get('SUBSYSTEM') == 'block':
                self.send({'event': 'uevent', 'uptime': uptime(),
                           'header': parts[0].decode(errors='replace'), 'env': env})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', default='vsm.control')
    a = ap.parse_args()
    agent = Agent(find_port(a.port))
    threading.Thread(target=agent.uevent_loop, daemon=True).start()
    threading.Thread(target=agent.read_loop, daemon=True).start()
    agent.send({'event': 'hello', 'uptime': uptime(), 'pid': os.getpid()})
    agent.done.wait()
    time.sleep(0.2)   # let the poweroff reply drain
    return 0


if __name__ == '__main__':
    sys.exit(main())
