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

"""``vsm-agent``: the guest agent's command line.

::

    vsm-agent [--config-file /etc/vsm-agent/vsm-agent.conf] run
        the daemon (systemd unit vsm-agent.service); SIGTERM/SIGINT stop it
        cleanly, SIGHUP reloads the configuration files
    vsm-agent status [--format table|json]
        per mount: size, used %, trigger state, last request and answer
        (from the daemon's status file; a live, read-only view if the
        daemon is not running)
    vsm-agent check [--format table|json]
        one dry-run pass: what the agent would ask for, and why

Logs go to stderr (journald under systemd); ``[DEFAULT] use_syslog``
adds a syslog handler. ``[DEFAULT] debug`` logs at DEBUG.
"""

import json
import signal
import sys
import time

from oslo_config import cfg

from vsm_agent import alerts
from vsm_agent import logs
from vsm_agent import opts
from vsm_agent import service

#: The daemon rewrites its status at least every 30 s.
STALE_STATUS_S = 120


def _add_parsers(subparsers):
    subparsers.add_parser('run', help='run the daemon')
    for name, text in (('status', 'show the status per mount'),
                       ('check', 'one dry-run pass: what would be asked '
                                 'and why')):
        parser = subparsers.add_parser(name, help=text)
        parser.add_argument('--format', choices=('table', 'json'),
                            default='table')


def make_conf(argv=None) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    opts.register_opts(conf)
    conf.register_cli_opt(cfg.SubCommandOpt(
        'command', title='commands', handler=_add_parsers))
    conf(argv if argv is not None else sys.argv[1:], project='vsm-agent')
    return conf


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


def format_status_table(status: dict) -> str:
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


def cmd_run(conf) -> int:
    agent = service.Agent(conf)
    signal.signal(signal.SIGTERM, lambda *_: agent.request_stop())
    signal.signal(signal.SIGINT, lambda *_: agent.request_stop())
    signal.signal(signal.SIGHUP, lambda *_: agent.request_reload())
    agent.run()
    return 0


def cmd_status(conf) -> int:
    path = conf.alerts.status_file
    status = alerts.read_status(path)
    if status is None:
        agent = service.Agent(conf, use_uevents=False)
        # A read-only view: no Nova lookups, no writes.
        agent._next_resolve = float('inf')
        agent.rescan(agent.clock())
        for view in agent.views.values():
            agent.sample(view, agent.clock())
        status = agent.status()
        status['note'] = ('The daemon is not running (no %s): live view '
                          'from this process.' % path)
    if conf.command.format == 'json':
        print(json.dumps(status, indent=1, sort_keys=True))
    else:
        print(format_status_table(status))
    return 0


def cmd_check(conf) -> int:
    agent = service.Agent(conf, use_uevents=False)
    agent._next_resolve = float('inf')
    report = agent.check()
    if conf.command.format == 'json':
        print(json.dumps(report, indent=1, sort_keys=True))
    else:
        print(format_check(report))
    return 0


def main(argv=None) -> int:
    conf = make_conf(argv)
    logs.setup(conf)
    handler = {'run': cmd_run, 'status': cmd_status,
               'check': cmd_check}[conf.command.name]
    return handler(conf)


if __name__ == '__main__':
    sys.exit(main())
