# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""A paced writer that runs INSIDE the test guest (standard library only).

Consumes space in a directory at a steady rate, like an application
filling its disk, and reports whether it ever hit ENOSPC::

    python3 /opt/vsm/vsm_devenv/guest/writer.py DIR --rate-mb 40 \
        --total-mb 3000 \
        [--chunk-mb 16] [--mode fallocate|write] [--keep-going]

On the host, :func:`start` spawns it in a :class:`~.harness.Guest` and
returns a :class:`Writer` to follow it; :func:`argv` builds the command.

``--mode write`` writes zeros (fsync per chunk): real I/O, but a TCG guest
writes at most ~25-35 MB/s. ``--mode fallocate`` (default) allocates the
chunk's blocks with ``posix_fallocate``: the filesystem fills exactly as
if the data had been written, at any rate, so the race between a fast
writer and the expansion loop can be tested on an emulated CPU.

Prints one JSON line per chunk to stdout (``t``, ``mb``, ``ok``) and a
final line ``{"done": true, "written_mb": ..., "enospc": n, "seconds": s,
"rate_mb": achieved}``. Exit status 0, or 28 (ENOSPC) if the disk filled
and ``--keep-going`` was not given.
"""

import argparse
import errno
import json
import os
import sys
import time

MiB = 1 << 20


def _chunk(path, size, mode, buf):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        if mode == 'fallocate':
            os.posix_fallocate(fd, 0, size)
        else:
            left = size
            while left:
                left -= os.write(fd, buf[: min(left, len(buf))])
            os.fsync(fd)
    finally:
        os.close(fd)


def _report(start, written_mb, ok):
    print(json.dumps({'t': round(time.monotonic() - start, 3),
                      'mb': written_mb, 'ok': ok}), flush=True)


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument('dir')
    p.add_argument('--rate-mb', type=float, required=True)
    p.add_argument('--total-mb', type=int, required=True)
    p.add_argument('--chunk-mb', type=int, default=16)
    p.add_argument(
        '--mode', choices=('fallocate', 'write'), default='fallocate'
    )
    p.add_argument('--prefix', default='w')
    p.add_argument(
        '--keep-going',
        action='store_true',
        help='after ENOSPC, retry the chunk instead of stopping',
    )
    a = p.parse_args(argv)
    buf = bytes(MiB)
    start = time.monotonic()
    written = enospc = 0
    i = 0
    while written < a.total_mb:
        size_mb = min(a.chunk_mb, a.total_mb - written)
        due = start + (written + size_mb) / a.rate_mb
        path = os.path.join(a.dir, '%s-%06d' % (a.prefix, i))
        try:
            _chunk(path, size_mb * MiB, a.mode, buf)
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise
            enospc += 1
            try:
                os.unlink(path)
            except OSError:
                pass
            _report(start, written, False)
            if not a.keep_going:
                break
            time.sleep(0.5)
            continue
        written += size_mb
        i += 1
        _report(start, written, True)
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    seconds = time.monotonic() - start
    print(
        json.dumps(
            {
                'done': True,
                'written_mb': written,
                'enospc': enospc,
                'seconds': round(seconds, 2),
                'rate_mb': round(written / seconds, 1) if seconds else 0,
            }
        ),
        flush=True,
    )
    return 28 if enospc and not a.keep_going else 0


# ---------------------------------------------------------- host side --

#: This script as the guest sees it (the checkout is shared at /opt/vsm).
GUEST_PATH = '/opt/vsm/vsm_devenv/guest/writer.py'


def argv(directory, rate_mb, total_mb, chunk_mb=16, mode='fallocate',
         keep_going=False, prefix='w'):
    """The guest command line of a writer in ``directory``."""
    args = ['python3', GUEST_PATH, directory, '--rate-mb', str(rate_mb),
            '--total-mb', str(int(total_mb)), '--chunk-mb', str(chunk_mb),
            '--mode', mode, '--prefix', prefix]
    return args + ['--keep-going'] if keep_going else args


def start(guest, directory, rate_mb, total_mb, **kw):
    """Spawn a writer in ``guest``; keyword arguments as :func:`argv`."""
    kw.setdefault('prefix', 'w%d' % time.monotonic_ns())
    log = '/tmp/writer-%d.log' % time.monotonic_ns()
    pid = guest.spawn(argv(directory, rate_mb, total_mb, **kw), log_path=log)
    return Writer(guest, pid, log)


class Writer:
    """A writer running in the guest: its JSON lines, its end."""

    def __init__(self, guest, pid, log_path):
        self.guest = guest
        self.pid = pid
        self.log_path = log_path

    def lines(self):
        try:
            text = self.guest.read_file(self.log_path).decode(errors='replace')
        except Exception:
            return []
        out = []
        for line in text.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({'text': line})
        return out

    def running(self):
        return self.guest.poll(self.pid) is None

    def wait(self, timeout=600):
        """Wait for the end; returns the summary (``enospc``, ``rate_mb``)."""
        self.guest.wait_exit(self.pid, timeout=timeout)
        for line in reversed(self.lines()):
            if line.get('done'):
                return line
        raise RuntimeError(
            'writer ended without a summary: %s' % self.lines()[-5:])

    def stop(self):
        if self.running():
            self.guest.kill(self.pid)


if __name__ == '__main__':
    sys.exit(main())
