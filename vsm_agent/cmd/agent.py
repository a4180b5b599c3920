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

from oslo_config import cfg

from vsm_agent import alerts
from vsm_agent import logs
from vsm_agent import opts
from vsm_agent import service
from vsm_agent import status


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


def cmd_run(conf) -> int:
    agent = service.Agent(conf)
    signal.signal(signal.SIGTERM, lambda *_: agent.request_stop())
    signal.signal(signal.SIGINT, lambda *_: agent.request_stop())
    signal.signal(signal.SIGHUP, lambda *_: agent.request_reload())
    agent.run()
    return 0


def cmd_status(conf) -> int:
    path = conf.alerts.status_file
    snapshot = alerts.read_status(path)
    if snapshot is None:
        agent = service.Agent(conf, use_uevents=False)
        # A read-only view: no Nova lookups, no writes.
        agent._next_resolve = float('inf')
        agent.rescan(agent.clock())
        for view in agent.views.values():
            agent.sample(view, agent.clock())
        snapshot = agent.status()
        snapshot['note'] = ('The daemon is not running (no %s): live '
                            'view from this process.' % path)
    if conf.command.format == 'json':
        print(json.dumps(snapshot, indent=1, sort_keys=True))
    else:
        print(status.format_table(snapshot))
    return 0


def cmd_check(conf) -> int:
    agent = service.Agent(conf, use_uevents=False)
    agent._next_resolve = float('inf')
    report = agent.check()
    if conf.command.format == 'json':
        print(json.dumps(report, indent=1, sort_keys=True))
    else:
        print(status.format_check(report))
    return 0


def main(argv=None) -> int:
    conf = make_conf(argv)
    logs.setup(conf)
    handler = {'run': cmd_run, 'status': cmd_status,
               'check': cmd_check}[conf.command.name]
    return handler(conf)


if __name__ == '__main__':
    sys.exit(main())
