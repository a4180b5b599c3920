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

"""End-to-end benchmarks: local cloud + QEMU guest. Printed, not asserted.

``python -m benchmarks.e2e_bench [--expansions 12] [--race-trials 5]``

Needs the local cloud with the QMP driver (``python -m vsm_devenv.localcloud
up --nova-driver qmp``), root, QEMU. One server + guest for everything.

1. **Latency** (budget: p95 <= 20 s), request written -> filesystem grown,
   over ``--expansions`` consecutive expansions of one ext4-on-GPT volume
   (agent: fixed 1 GiB step at 80 %; each round makes the disk 90 % full
   at once with posix_fallocate). Per stage, from clocks that need no
   polling:

   ==========================  ===========================================
   stage                       from -> to
   ==========================  ===========================================
   notification + decision     agent log "wrote ... st=requested" ->
                               audit ``request.granted`` (listener DB)
   Cinder extend               ``request.granted`` -> audit ``extend.done``
                               (Cinder reports the new size, in-use)
   Nova event -> guest         ``extend.done`` -> the guest kernel's
                               ``RESIZE=1`` uevent (host receive time);
                               negative when the guest saw it first
   guest grow                  uevent -> agent log "grown from"
   ==========================  ===========================================

   Guest log times are moved onto the host clock by matching the agent's
   "Capacity change" log lines with the host receive times of the same
   uevents (milliseconds apart).

2. **Headroom race** (budget: >= 50 MB/s with zero ENOSPC, 2 GiB volume,
   default policy): bisection over the writer's rate. Each trial uses a
   fresh 2 GiB volume, pre-filled to 60 %, then a writer consumes
   ``max(1536, 30 s x rate)`` MB at a steady rate (posix_fallocate: a TCG
   guest cannot *write* more than ~25-35 MB/s, measured and printed as
   well). A rate passes when the writer never sees ENOSPC.
"""

import argparse
import datetime
import re
import sys
import time

from vsm_devenv import closedloop

GiB = closedloop.GiB

_LOG_TIME = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ')


def _pct(values, p):
    if not values:
        return float('nan')
    values = sorted(values)
    k = (len(values) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def rough_guest_offset(guest):
    """host - guest wall clock to a second (busybox date has no %N)."""
    t0 = time.time()
    out = guest.exec(['date', '+%s']).stdout.strip()
    return (t0 + time.time()) / 2 - float(out)


def guest_clock_offset(log_text, uevent_times, rough):
    """host wall clock - guest wall clock, in seconds.

    The guest kernel's RESIZE uevent reaches the host harness and the agent
    within milliseconds of each other; the agent logs "Capacity change".
    Pair each uevent with the log line nearest to it (by the ``rough``
    offset) and take the median difference.
    """
    guest = [t for t, kind, _ in agent_log_events(log_text, '', 0.0)
             if kind == 'capacity']
    diffs = []
    for h in uevent_times:
        if guest:
            g = min(guest, key=lambda g: abs(h - rough - g))
            diffs.append(h - g)
    diffs.sort()
    return diffs[len(diffs) // 2] if diffs else rough


def agent_log_events(text, volume_id, offset):
    """[(host wall time, 'requested'|'grown_fs'|'ack', request id or None)]."""
    out = []
    for line in text.splitlines():
        m = _LOG_TIME.match(line)
        if not m:
            continue
        t = (
            datetime.datetime.strptime(m.group(1), '%Y-%m-%d %H:%M:%S,%f')
            .replace(tzinfo=datetime.timezone.utc)
            .timestamp()
            + offset
        )
        rid = re.search(r'id=([0-9a-f]{32})', line)
        rid = rid.group(1) if rid else None
        if 'wrote vsm:req:' in line and 'st=requested' in line:
            out.append((t, 'requested', rid))
        elif 'wrote vsm:req:' in line and 'st=grown' in line:
            out.append((t, 'ack', rid))
        elif 'grown from' in line and volume_id in line:
            out.append((t, 'grown_fs', None))
        elif 'Capacity change on' in line:
            out.append((t, 'capacity', None))
    return out


def audit_events(loop, volume_id):
    """{(event, request_id): host wall time} from the listener's audit log."""
    out = {}
    for row in loop.db_rows('audit_log'):
        if row.get('volume_id') != volume_id:
            continue
        at = row['at']
        if isinstance(at, str):
            at = datetime.datetime.fromisoformat(at)
        t = at.replace(tzinfo=datetime.timezone.utc).timestamp()
        out.setdefault((row['event'], row.get('request_id')), t)
    return out


def bench_latency(loop, expansions):
    spec = loop.volume('lat')
    loop.start_agent(
        {
            'discovery': {'include_mounts': spec.mountpoint},
            'sizing': {'policy': 'fixed', 'fixed_gb': '1'},
            'triggers': {
                'used_pct': '80',
                'sustained_samples': '1',
                'lead_time_s': '0',
            },
        }
    )
    mono_to_wall = time.time() - time.monotonic()
    rough = rough_guest_offset(loop.guest)
    dev = loop.guest.device_for_serial(spec.volume_id)[5:]
    seq = 0
    rounds = []
    for i in range(expansions):
        cursor = loop.guest.uevent_cursor()
        loop.allocate('lat', fraction=0.9)
        ack = loop.wait_for_request_state(
            'lat', 'grown', timeout=180, after_seq=seq
        )
        seq = ack.seq
        uev = [
            e
            for e in loop.guest.uevents(cursor)
            if e['env'].get('DEVNAME') == dev and e['env'].get('RESIZE') == '1'
        ]
        rounds.append((ack, uev[0]['t_host'] + mono_to_wall if uev else None))
        # free the space again so the next round starts below the threshold
        loop.guest.exec('rm -f %s/a*' % spec.mountpoint)
        print(
            '  expansion %2d: -> %d GiB' % (i + 1, ack.current_gb), flush=True
        )
    time.sleep(2)
    text = loop.agent_log()
    offset = guest_clock_offset(text, [u for _, u in rounds if u], rough)
    print('  guest clock offset: %+.3f s' % offset)
    log = agent_log_events(text, spec.volume_id, offset)
    audit = audit_events(loop, spec.volume_id)
    stages = {
        'notification + decision': [],
        'Cinder extend': [],
        'Nova event -> guest': [],
        'guest grow': [],
        'end to end': [],
    }
    for ack, t_uevent in rounds:
        rid = ack.request_id
        t_req = next(
            (t for t, k, r in log if k == 'requested' and r == rid), None
        )
        t_ack = next((t for t, k, r in log if k == 'ack' and r == rid), None)
        t_fs = None
        if t_uevent is not None and t_ack is not None:
            t_fs = next(
                (
                    t
                    for t, k, _ in log
                    if k == 'grown_fs' and t_uevent - 1 <= t <= t_ack
                ),
                None,
            )
        t_granted = audit.get(('request.granted', rid))
        t_extended = audit.get(('extend.done', rid))
        pairs = (
            ('notification + decision', t_req, t_granted),
            ('Cinder extend', t_granted, t_extended),
            ('Nova event -> guest', t_extended, t_uevent),
            ('guest grow', t_uevent, t_fs),
            ('end to end', t_req, t_fs),
        )
        for name, a, b in pairs:
            if a is not None and b is not None:
                stages[name].append(b - a)
    loop.stop_agent()
    print(
        '\nEnd to end latency, request written -> filesystem grown '
        '(%d expansions)'
        % len(rounds)
    )
    print(
        '  %-26s %7s %7s %7s %4s' % ('stage', 'p50 s', 'p95 s', 'max s', 'n')
    )
    for name, values in stages.items():
        print(
            '  %-26s %7.2f %7.2f %7.2f %4d'
            % (
                name,
                _pct(values, 50),
                _pct(values, 95),
                max(values) if values else float('nan'),
                len(values),
            )
        )
    p95 = _pct(stages['end to end'], 95)
    print('  budget p95 <= 20 s: %s' % ('met' if p95 <= 20 else 'NOT met'))
    return stages


def race_trial(loop, name, rate):
    spec = loop.volume(name)
    # pre-fill first: a jump seen by a running agent would look like a
    # huge fill rate and trigger a request before the race starts
    loop.allocate(name, fraction=0.6)
    loop.start_agent({'discovery': {'include_mounts': spec.mountpoint},
                      'triggers': {'sustained_samples': '1'}})
    total = max(1536, int(30 * rate))
    writer = loop.start_writer(name, rate_mb=rate, total_mb=total, chunk_mb=16)
    summary = writer.wait(timeout=600)
    loop.stop_agent()
    size = loop.cloud.volume_size(spec.volume_id)
    ok = summary['enospc'] == 0
    print(
        '  %4d MB/s for %5d MB: %s (achieved %.0f MB/s, volume now %d GiB)'
        % (
            rate,
            total,
            'no ENOSPC' if ok else 'ENOSPC',
            summary['rate_mb'],
            size,
        ),
        flush=True,
    )
    return ok


def bench_race(loop, names, first=50, high=400):
    print(
        '\nHeadroom race: highest rate a 2 GiB volume absorbs without ENOSPC '
        '(default policy, posix_fallocate writer)'
    )
    best, worst = 0, high  # highest passing, lowest failing rate
    rate = first
    for name in names:
        if race_trial(loop, name, rate):
            best = rate
        else:
            worst = rate
        if worst - best <= 10:
            break
        rate = (best + worst) // 2
    print(
        '  highest passing rate: %s MB/s (budget >= 50 MB/s: %s)'
        % (best, 'met' if best and best >= 50 else 'NOT met')
    )
    # reference: real writes (zeros, fsync) into the roomiest race volume
    roomy = max(names, key=lambda n: loop.statvfs(n)[2])
    target = '%s/ddtest' % loop.volume(roomy).mountpoint
    r = loop.guest.exec(['dd', 'if=/dev/zero', 'of=' + target, 'bs=1M',
                         'count=512', 'conv=fsync'], check=False)
    loop.guest.exec(['rm', '-f', target], check=False)
    print('  for reference, real writes in this TCG guest (dd 512 MiB of '
          'zeros, fsync): %.0f MB/s%s' % (
              512 * 1.048576 / r.duration if r.duration else 0,
              '' if r.rc == 0 else ' (dd failed: %s)' % r.stderr[-200:]))
    return best


def main(argv=None):
    p = argparse.ArgumentParser(prog='python -m benchmarks.e2e_bench')
    p.add_argument('--expansions', type=int, default=12)
    p.add_argument('--race-trials', type=int, default=5)
    p.add_argument('--skip-race', action='store_true')
    p.add_argument('--skip-latency', action='store_true')
    a = p.parse_args(argv)
    problem = closedloop.unavailable()
    if problem:
        print('e2e benchmarks skipped: %s' % problem)
        return 0
    race = ['race%d' % i for i in range(0 if a.skip_race else a.race_trials)]
    volumes = [closedloop.VolumeSpec('lat', 1, 'ext4-part', '/bench-lat')]
    volumes += [
        closedloop.VolumeSpec(n, 2, 'ext4-part', '/bench-' + n) for n in race
    ]
    loop = closedloop.ClosedLoop(
        volumes=volumes,
        limit_gb=100000,
        listener=True,
        name='vsm-bench',
        # a dozen 1 GiB steps grow the volume 13x: beyond the runaway cap
        listener_options={'expansion_policy': {'runaway_factor': '0'}},
    )
    t0 = time.monotonic()
    loop.setUp()
    try:
        print(
            'closed loop ready in %.0f s (%s)'
            % (time.monotonic() - t0, loop.timings)
        )
        if not a.skip_latency:
            bench_latency(loop, a.expansions)
        if race:
            bench_race(loop, race)
    finally:
        loop.cleanUp()
    return 0


if __name__ == '__main__':
    sys.exit(main())
