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

"""Where the agent logs: stderr (journald under systemd), optionally syslog.

The agent uses the standard library's :mod:`logging` (oslo.log would
cost memory in every VM for features a guest does not need).
``[DEFAULT] debug`` logs at DEBUG; ``[DEFAULT] use_syslog`` adds a handler
for ``/dev/log``::

    logs.setup(conf)
"""

import logging
import logging.handlers
import sys

from oslo_config import cfg

LOG = logging.getLogger('vsm_agent')

logging_opts = [
    cfg.BoolOpt('debug', default=False, help='Log at DEBUG level.'),
    cfg.BoolOpt('use_syslog', default=False,
                help='Also log to syslog (/dev/log).'),
]


def list_opts():
    return [('DEFAULT', logging_opts)]


def setup(conf) -> None:
    """Send the agent's logs to stderr (and syslog) at the configured level."""
    root = logging.getLogger()
    root.handlers[:] = []
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        '%(asctime)s %(levelname)s %(name)s: %(message)s'))
    root.addHandler(handler)
    if conf.use_syslog:
        try:
            syslog = logging.handlers.SysLogHandler(address='/dev/log')
            syslog.setFormatter(logging.Formatter(
                'vsm-agent: %(levelname)s %(message)s'))
            root.addHandler(syslog)
        except OSError as exc:
            LOG.warning('syslog unavailable: %s', exc)
    root.setLevel(logging.DEBUG if conf.debug else logging.INFO)
