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

"""Alerts: tell the people who use the VM, where they will look.

Three places, all local (the guest may have no other way out):

* the **journal / syslog**: a WARNING log line per event (a denial, a
  failed extend, a failed grow), carrying the volume and request ids;
* the **message of the day**: ``[alerts] motd_dir`` (``/run/motd.d`` by
  default, shown at login by pam_motd; ``/etc/motd.d`` persists) gets one
  file, ``[alerts] motd_file``, listing every volume that currently needs
  attention, rewritten when that list changes and removed when it is
  empty;
* the **status file** (``[alerts] status_file``), a JSON snapshot the
  daemon rewrites after every tick in which something changed;
  ``vsm-agent status`` reads it.

A request that waits for human approval (``pending``) is not an alert: it
shows as pending in the status, nowhere else.

Usage::

    alerts = alerts.Alerts.from_conf(conf)
    alerts.update({'6f1c...': 'denied (over_limit): /srv/data stays 10 GiB'})
    alerts.write_status({...})
"""

import json
import logging
import os
import typing

from oslo_config import cfg

from vsm_agent import state

LOG = logging.getLogger(__name__)

GROUP = 'alerts'

alert_opts = [
    cfg.StrOpt('motd_dir', default='/run/motd.d',
               help='Directory of message-of-the-day fragments (empty: no '
                    'motd alerts).'),
    cfg.StrOpt('motd_file', default='90-vsm-agent',
               help='File name of the agent\'s motd fragment.'),
    cfg.StrOpt('status_file', default='/run/vsm-agent/status.json',
               help='JSON status snapshot read by "vsm-agent status".'),
]


def list_opts():
    return [(GROUP, alert_opts)]


class Alerts:
    def __init__(self, motd_dir: str, motd_file: str, status_file: str):
        self.motd_path = (os.path.join(motd_dir, motd_file)
                          if motd_dir else None)
        self.status_file = status_file
        self._current: typing.Dict[str, str] = {}
        self._status_text: typing.Optional[str] = None

    @classmethod
    def from_conf(cls, conf) -> 'Alerts':
        group = conf[GROUP]
        return cls(group.motd_dir, group.motd_file, group.status_file)

    def update(self, messages: typing.Mapping[str, str]) -> None:
        """Set the alerts now in force ({volume_id: one line}).

        New or changed alerts are logged at WARNING; the motd file is
        rewritten only when the set changes.
        """
        messages = dict(messages)
        if messages == self._current:
            return
        for volume_id, line in sorted(messages.items()):
            if self._current.get(volume_id) != line:
                LOG.warning('VSM alert for volume %s: %s', volume_id, line)
        for volume_id in sorted(set(self._current) - set(messages)):
            LOG.info('VSM alert cleared for volume %s', volume_id)
        self._current = messages
        self._write_motd()

    def _write_motd(self) -> None:
        if not self.motd_path:
            return
        try:
            if not self._current:
                if os.path.exists(self.motd_path):
                    os.unlink(self.motd_path)
                return
            lines = ['', '*** VSM storage agent: attention needed ***']
            lines += ['  ' + line for _, line in sorted(self._current.items())]
            lines += ['  Run "vsm-agent status" for details.', '']
            state.atomic_write(self.motd_path, '\n'.join(lines) + '\n')
        except OSError as exc:
            LOG.warning('Cannot write motd alert %s: %s', self.motd_path, exc)

    def write_status(self, status: dict) -> bool:
        """Write the status snapshot if it changed; True if written."""
        if not self.status_file:
            return False
        text = json.dumps(status, indent=1, sort_keys=True)
        if text == self._status_text:
            return False
        try:
            state.atomic_write(self.status_file, text)
        except OSError as exc:
            LOG.warning('Cannot write status file %s: %s', self.status_file,
                        exc)
            return False
        self._status_text = text
        return True


def read_status(path: str) -> typing.Optional[dict]:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
