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

"""``vsm-authz-listener`` as a subprocess on the local cloud.

The one listener runner of the functional tier, the closed loop and the
demo. :func:`config` renders a ``vsm.conf`` for the local cloud (RabbitMQ,
the ``vsm`` service user, oslo.limit through the vsm endpoint) from
``localcloud.json``; :class:`AuthzListener` runs the listener on it::

    text = listener.config(info, workdir, 'sqlite:///%s/vsm.sqlite' % workdir,
                           {'listener': {'pool': 'my-pool'}})
    ...write text to conf_file...
    runner = self.useFixture(listener.AuthzListener(conf_file, workers=2))
    runner.kill()          # SIGKILL the supervisor and its workers
    runner.log()           # everything it wrote (stdout and stderr)

The fixture is ready once every worker logs that it consumes: a request
written before that could be lost to a pool queue that does not exist yet.
It runs in its own session; ``kill``/``stop`` signal the whole group, and
cleanup stops it (SIGTERM, then SIGKILL after 60 s).
"""

import os
import signal
import subprocess
import sys

import fixtures

from vsm_devenv.localcloud.layout import REPO_ROOT
from vsm_devenv.wait import wait_for


class ListenerFailed(RuntimeError):
    """The listener (or its database sync) exited; the message has its log."""


def render_ini(sections):
    """``{section: {option: value}}`` as the text of an INI file."""
    lines = []
    for section, opts in sections.items():
        lines.append('[%s]' % section)
        lines += ['%s = %s' % (k, v) for k, v in opts.items()]
        lines.append('')
    return '\n'.join(lines)


def config(info, state_path, connection, extra=None):
    """The text of a ``vsm.conf`` for the local cloud described by ``info``.

    ``extra`` (``{section: {option: value}}``) adds or overrides options.
    """
    service_user = {
        'auth_type': 'password',
        'auth_url': info['auth_url'],
        'username': 'vsm',
        'password': info['password'],
        'user_domain_name': 'Default',
    }
    region = {'region_name': info['region']}
    sections = {
        'DEFAULT': {
            'transport_url': info['transport_url'],
            'state_path': state_path,
            'debug': 'true',
        },
        'database': {'connection': connection},
        'service_auth': dict(service_user, project_name='service',
                             project_domain_name='Default'),
        'nova': dict(region),
        'cinder': dict(region),
        'oslo_limit': dict(service_user, system_scope='all',
                           endpoint_id=info['vsm']['endpoint_id']),
        'listener': {
            'exchange': info['notifications']['exchange'],
            'topics': info['notifications']['topic'],
        },
        'oslo_messaging_notifications': {'driver': 'messagingv2'},
    }
    for section, opts in (extra or {}).items():
        sections.setdefault(section, {}).update(opts)
    return render_ini(sections)


class AuthzListener(fixtures.Fixture):
    """``vsm-authz-listener --config-file CONF --workers N``, until cleanup.

    :param log_file: its stdout and stderr (appended; default
        ``<config_file>.log``)
    :param db_sync: run ``vsm-manage db sync`` on the config first
    """

    def __init__(self, config_file, workers=1, log_file=None, db_sync=False,
                 ready_timeout=60, python=None):
        super().__init__()
        self.config_file = config_file
        self.workers = workers
        self.log_file = log_file or config_file + '.log'
        self.db_sync = db_sync
        self.ready_timeout = ready_timeout
        self.python = python or sys.executable
        self.proc = None

    def _run_env(self):
        # the working tree's code, whatever the virtualenv holds
        return dict(os.environ, PYTHONPATH=os.pathsep.join(
            filter(None, (str(REPO_ROOT), os.environ.get('PYTHONPATH')))))

    def _setUp(self):
        if self.db_sync:
            sync = subprocess.run(
                [self.python, '-m', 'vsm_authz.cmd.manage',
                 '--config-file', self.config_file, 'db', 'sync'],
                capture_output=True, text=True, env=self._run_env(),
                cwd=REPO_ROOT)
            if sync.returncode:
                raise ListenerFailed('vsm-manage db sync failed: %s%s' % (
                    sync.stdout[-2000:], sync.stderr[-2000:]))
        with open(self.log_file, 'ab') as log:
            self.proc = subprocess.Popen(
                [self.python, '-m', 'vsm_authz.cmd.listener',
                 '--config-file', self.config_file,
                 '--workers', str(self.workers)],
                stdout=log, stderr=subprocess.STDOUT, env=self._run_env(),
                cwd=REPO_ROOT, start_new_session=True)
        self.addCleanup(self.stop)
        wait_for(lambda: self.proc.poll() is not None or
                 self.log().count(' consuming ') >= self.workers,
                 self.ready_timeout, 'the listener to consume', interval=0.2)
        if self.proc.poll() is not None:
            raise ListenerFailed('vsm-authz-listener exited with %s: %s'
                                 % (self.proc.returncode, self.tail()))

    def kill(self, signum=signal.SIGKILL):
        """Signal the whole process group (supervisor and workers); wait."""
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signum)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def stop(self):
        """SIGTERM: the workers finish what they hold, then exit."""
        self.kill(signal.SIGTERM)

    def log(self):
        """Everything the listener wrote so far."""
        try:
            with open(self.log_file, errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def tail(self, n=3000):
        """The last ``n`` characters of :meth:`log`."""
        return self.log()[-n:]
