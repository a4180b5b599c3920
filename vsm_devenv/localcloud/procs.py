"""Start, find and stop the local cloud's processes, by PID only.

Every service is started in its own session (``setsid``), so its session id
equals the PID written to ``$ROOT/run/<name>.pid``. Stopping a service signals
exactly the processes of that session (gunicorn workers, cinder-volume backend
children, Erlang helpers), first SIGTERM, then SIGKILL after a grace period.
Nothing is ever looked up or killed by name. Zombies (processes already dead
but not reaped by PID 1) count as stopped.
"""

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

from vsm_devenv.wait import wait_for


def start(layout, name, argv, env=None, cwd=None, nice=0):
    """Start ``argv`` in a new session, logging to ``$ROOT/logs/<name>.log``.

    ``nice`` > 0 runs it at lower CPU priority (``nice`` execs, so the PID is
    the service's).
    """
    if nice:
        argv = ['nice', '-n', str(nice), *argv]
    with open(layout.log(name), 'ab') as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    layout.pidfile(name).write_text(f'{proc.pid}\n')
    return proc.pid


def read_pid(layout, name):
    try:
        return int(layout.pidfile(name).read_text())
    except (OSError, ValueError):
        return None


def _stat(pid):
    """(state, session id) of a live process, or None."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[3])


def session_members(sid):
    """PIDs of the non-zombie processes in session ``sid``."""
    members = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            st = _stat(int(entry))
            if st and st[1] == sid and st[0] != 'Z':
                members.append(int(entry))
    return members


def is_running(layout, name):
    pid = read_pid(layout, name)
    return bool(pid and session_members(pid))


def stop(layout, name, timeout=20.0):
    """Stop the session of service ``name``; True if something ran."""
    sid = read_pid(layout, name)
    if not sid:
        return False
    members = session_members(sid)
    _signal_all(members, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while members and time.monotonic() < deadline:
        time.sleep(0.1)
        members = session_members(sid)
    _signal_all(members, signal.SIGKILL)
    while session_members(sid) and time.monotonic() < deadline + 5:
        time.sleep(0.1)
    layout.pidfile(name).unlink(missing_ok=True)
    return True


def renice_session(layout, name, nice=0):
    """Set the CPU priority of every process of service ``name``'s session."""
    sid = read_pid(layout, name)
    for pid in session_members(sid) if sid else ():
        try:
            os.setpriority(os.PRIO_PROCESS, pid, nice)
        except ProcessLookupError:
            pass


def _signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def port_open(host, port):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def http_status(url):
    """Status code of a GET (any code counts), or None if nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, ValueError):
        return None


def wait_http(url, timeout=120):
    wait_for(lambda: (http_status(url) or 500) < 500, timeout, url)
