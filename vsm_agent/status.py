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

"""Status: what the agent tells people about its mounts and volumes.

Every rendering of the daemon's state lives here; :mod:`alerts` only
writes what these functions produce:

* :func:`snapshot` — the JSON status: per mount its size, usage, trigger,
  storage stack, request phase, last request and answer, plus the health
  of the channel. The daemon writes it to ``[alerts] status_file`` when
  :func:`fingerprint` changes (or every 30 s); ``vsm-agent status
  --format json`` prints it.
* :func:`format_table` — a snapshot as the table ``vsm-agent status``
  prints.
* :func:`alert_lines` — one line per volume that needs attention (denied,
  failed extend, failed grow, at its maximum), for the motd and the log.
* :func:`check_entry` and :func:`format_check` — ``vsm-agent check``: for
  one mount, what is breached and what would be asked, and why.

Usage::

    snap = status.snapshot(views, store, link.health, server_id,
                           dry_run=False, now=time.time())
    print(status.format_table(snap))
    alerts.update(status.alert_lines(views, store))
"""

import os
import time
import typing

from vsm_agent import lifecycle
from vsm_agent import monitor
from vsm_agent import protocol

GIB = 1024 ** 3
MIB = 1024 * 1024

#: The daemon rewrites its status at least every 30 s.
STALE_STATUS_S = 120


def snapshot(views, store, health, server_id, dry_run: bool,
             now: float) -> dict:
    """The status of every mount (what ``vsm-agent status`` shows).

    ``views`` is {mountpoint: :class:`monitor.MountView`}, ``store`` the
    :class:`vsm_agent.state.StateStore`, ``health`` the channel's health lines.
    """
    mounts = []
    for mp, view in sorted(views.items()):
        m, s = view.mount, view.sample
        entry = {
            'mountpoint': mp, 'fstype': m.fstype,
            'stack': m.describe_stack(), 'volume_id': m.volume_id,
            'expandable': m.expandable,
            'not_expandable_why': m.not_expandable_why,
            'usage_class': view.thresholds.usage_class,
            'size_bytes': s.size_bytes if s else None,
            'avail_bytes': s.avail_bytes if s else None,
            'used_pct': round(s.used_pct, 1) if s else None,
            'inode_used_pct': (round(s.inode_used_pct, 1)
                               if s and s.inode_used_pct is not None
                               else None),
            'disk_gb': round(m.disk_bytes / GIB, 2),
            'trigger': (view.verdict.describe() if view.verdict
                        else view.error or 'not sampled'),
            'time_to_full_s': (int(view.time_to_full_s)
                               if view.time_to_full_s else None),
            'phase': None, 'request': None, 'answer': None,
            'message': None,
        }
        if m.volume_id and m.expandable:
            vs = store.volume(m.volume_id)
            entry['phase'] = vs.phase
            entry['request'] = vs.request
            entry['answer'] = vs.response
            entry['message'] = vs.last_error
            if vs.unwritten:
                entry['message'] = 'request not yet written to Nova'
        mounts.append(entry)
    return {'updated': int(now), 'pid': os.getpid(), 'dry_run': dry_run,
            'server_id': server_id, 'channel': dict(health), 'mounts': mounts}


def fingerprint(views, store, health) -> tuple:
    """What a status reader cares about: phase, trigger, whole-percent
    usage per mount and the channel health."""
    return (tuple(
        (mp, v.verdict.state if v.verdict else None,
         int(v.sample.used_pct) if v.sample else None,
         store.volume(v.mount.volume_id).phase
         if v.mount.volume_id and v.mount.expandable else None)
        for mp, v in views.items()),
        tuple(health.items()))


def alert_lines(views, store) -> typing.Dict[str, str]:
    """{volume_id: one line} for every volume that needs attention."""
    messages = {}
    for volume_id, vs in store.volumes.items():
        mine = monitor.volume_views(views, volume_id)
        where = ', '.join(v.mount.mountpoint for v in mine) or volume_id
        response = _response_of(vs)
        if vs.phase == lifecycle.DENIED and response:
            messages[volume_id] = (
                '%s: more space was DENIED (%s); the agent stops asking '
                'until the answer changes. Free space or contact your '
                'cloud administrator.' % (where, response.reason))
        elif vs.phase == lifecycle.FAILED and response:
            messages[volume_id] = ('%s: the cloud could not extend the '
                                   'volume (%s)' % (where,
                                                    response.reason))
        elif vs.grow_attempts and vs.last_error:
            messages[volume_id] = '%s: %s' % (where, vs.last_error)
        elif vs.last_error and any(v.verdict and v.verdict.fire
                                   for v in mine):
            messages[volume_id] = '%s: needs space but %s' % (
                where, vs.last_error)
    return messages


def _response_of(vs) -> typing.Optional[protocol.ExpansionResponse]:
    if not vs.response:
        return None
    try:
        return protocol.parse_response(
            protocol.response_key(vs.volume_id), vs.response)
    except protocol.ProtocolError:
        return None


def check_entry(view, phase: typing.Optional[str] = None, decision=None,
                error: typing.Optional[str] = None) -> dict:
    """``vsm-agent check``'s report on one mount.

    ``view`` was just evaluated (:meth:`monitor.MountView.observe`) unless
    ``error`` says why it could not be sampled; ``phase`` is its volume's
    phase and ``decision`` the :class:`sizing.SizeDecision` the loop would
    ask with (None if it would not ask).
    """
    m = view.mount
    item = {'mountpoint': m.mountpoint, 'stack': m.describe_stack(),
            'volume_id': m.volume_id, 'expandable': m.expandable,
            'why': m.not_expandable_why,
            'usage_class': view.thresholds.usage_class,
            'would_request_gb': None, 'explain': []}
    if error:
        item['explain'].append('cannot sample: %s' % error)
        return item
    s, t, verdict = view.sample, view.thresholds, view.verdict
    item['used_pct'] = round(s.used_pct, 1)
    item['size_bytes'] = s.size_bytes
    item['explain'].append(
        'used %.1f%% (threshold %g%%, emergency %g%%), %d MiB available, '
        'inodes %s' % (s.used_pct, t.used_pct, t.emergency_used_pct,
                       s.avail_bytes // MIB,
                       '%.1f%% used' % s.inode_used_pct
                       if s.inode_used_pct is not None else 'unlimited'))
    if verdict.state not in ('breach', 'firing'):
        item['explain'].append('no trigger breached: nothing to ask')
        return item
    emergency = verdict.reason == protocol.Reason.EMERGENCY
    codes = [c for c in verdict.breached if c != protocol.Reason.EMERGENCY]
    item['explain'].append('breached: %s%s' % (
        ', '.join(codes) or '-', ' (EMERGENCY: no wait)' if emergency
        else ' (fires after %d consecutive samples)' % t.sustained_samples))
    if not m.expandable:
        item['explain'].append('cannot ask: %s' % (
            m.not_expandable_why or 'no volume'))
    elif decision is None:
        item['explain'].append('would not ask: volume is %s' % phase)
    else:
        item['would_request_gb'] = decision.requested_gb
        item['explain'].append('size: %s' % decision.explain)
    return item


def _gib(n):
    return '-' if n is None else '%.1fG' % (n / 1024 ** 3)


def _fields(value):
    if not value:
        return {}
    return dict(part.partition('=')[::2] for part in value.split(';'))


def _request_text(value):
    f = _fields(value)
    if not f:
        return '-'
    return '%s %sG seq %s (%s)' % (f.get('st'), f.get('want'),
                                   f.get('seq'), f.get('why'))


def _answer_text(value):
    f = _fields(value)
    if not f:
        return '-'
    text = '%s %sG (%s)' % (f.get('st'), f.get('size'), f.get('why'))
    return text + (' after %s' % f['after'] if 'after' in f else '')


def format_table(status: dict) -> str:
    """The text of ``vsm-agent status`` from a :func:`snapshot`."""
    rows = [('MOUNT', 'SIZE', 'USED%', 'TRIGGER', 'STATE', 'LAST REQUEST',
             'LAST ANSWER')]
    notes = []
    for m in status.get('mounts', []):
        if m.get('phase') == 'pending':
            state = 'pending approval'
        elif m.get('expandable'):
            state = m.get('phase') or '-'
        else:
            state = 'not expandable'
        rows.append((m['mountpoint'], _gib(m.get('size_bytes')),
                     '-' if m.get('used_pct') is None
                     else '%.1f' % m['used_pct'],
                     m.get('trigger') or '-', state,
                     _request_text(m.get('request')),
                     _answer_text(m.get('answer'))))
        if m.get('not_expandable_why'):
            notes.append('%s: %s' % (m['mountpoint'],
                                     m['not_expandable_why']))
        elif m.get('message'):
            notes.append('%s: %s' % (m['mountpoint'], m['message']))
        if m.get('volume_id'):
            notes.append('%s: %s, volume %s' % (m['mountpoint'], m['stack'],
                                                m['volume_id']))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = ['  '.join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
             for r in rows]
    channel = status.get('channel') or {}
    lines.append('')
    lines.append('Nova: reads %s; writes %s%s' % (
        channel.get('read', '-'), channel.get('write', '-'),
        '  [DRY RUN]' if status.get('dry_run') else ''))
    if status.get('note'):
        lines.append(status['note'])
    age = time.time() - status.get('updated', time.time())
    if age > STALE_STATUS_S:
        lines.append('The status is %d s old: is the daemon running? '
                     '(systemctl status vsm-agent)' % age)
    lines += notes
    return '\n'.join(lines)


def format_check(report) -> str:
    """The text of ``vsm-agent check`` from its report."""
    lines = []
    for item in report:
        head = '%s  (%s)' % (item['mountpoint'], item['stack'])
        if item.get('would_request_gb'):
            head += '  -> would ask for %d GiB' % item['would_request_gb']
        lines.append(head)
        if not item['expandable']:
            lines.append('    not expandable: %s' % (item['why'] or
                                                     'no volume'))
        for text in item['explain']:
            lines.append('    ' + text)
    return '\n'.join(lines) or 'no block-backed mounts found'
