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

"""VSM's DevStack plugin, proven by DevStack itself.

One test runs the whole cycle a developer goes through (about 15 min on two
cores): a real ``stack.sh`` with ``enable_plugin vsm`` from this checkout
in a ``systemd-nspawn`` container (:mod:`vsm_devenv.devstack`), then, as
the ``demo`` tenant, a server booted from a volume with a data volume
attached; a ``vsm:req:`` request written with ``openstack server set``
must come back as ``vsm:resp:`` ``extended`` from the listener the plugin
started, with the volume grown in Cinder; finally ``unstack.sh`` must stop
VSM's ``devstack@vsm-*`` units.

Needs root and the source snapshots (``$VSM_DEVSTACK_SRC``, default
``../shared/devstack/src``); without the snapshots the test is skipped
with the reason. Run::

    tox -e devstack
    python -m stestr --test-path vsm_tests/devstack run

The phase timings and memory peaks are attached to the result and written
to ``/var/tmp/vsm-devstack/logs/latest/timings.txt``.
"""

import os
import time
import uuid

import testtools
from testtools import content

from vsm_agent import protocol
from vsm_devenv.devstack import run
from vsm_devenv.devstack import snapshots

LISTENER_UNIT = 'devstack@vsm-authz-listener.service'
RUNNING = ('active', 'activating', 'reloading', 'deactivating')


class DevStackPluginTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        reason = snapshots.unavailable(snapshots.source_dir())
        if reason:
            self.skipTest(reason)
        if os.geteuid() != 0:
            self.fail('the DevStack tier needs root (debootstrap, '
                      'systemd-nspawn, slirp4netns)')
        self.ds = run.DevStackRun()
        self.addCleanup(self._down)
        self.addOnException(self._attach_logs)
        self.name = 'vsm-ds-%s' % uuid.uuid4().hex[:6]

    def _down(self):
        """Stop and remove the container; the report is always attached
        (``stestr run --all-attachments`` prints it)."""
        try:
            self.ds.down()
        finally:
            self.addDetail('devstack-report',
                           content.text_content(self.ds.report()))

    def _attach_logs(self, exc_info):
        """On failure: the end of stack.sh's output and VSM's journal."""
        if self.ds.box is not None and self.ds.box.init_pid is not None:
            try:
                self.ds.save_vsm_journal()
            except Exception:  # the container may be gone already
                pass
        for name, path, size in (
                ('vsm-journal', self.ds.logs / 'vsm-journal.txt', 20000),
                ('stack.out', self.ds.logs / 'stack.out', 8000)):
            if path.exists():
                self.addDetail(name, content.text_content(
                    path.read_text(errors='replace')[-size:]))

    # ------------------------------------------------------------ helpers --

    def wait_for(self, what, predicate, timeout=180, interval=3):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                self.fail('timed out after %ds waiting for %s'
                          % (timeout, what))
            time.sleep(interval)

    def volume_status(self, name, wanted):
        status = self.ds.openstack('volume', 'show', name)['status']
        if status.startswith('error'):
            self.fail('volume %s is %s' % (name, status))
        return status == wanted

    def metadata(self, server):
        props = self.ds.openstack('server', 'show', server,
                                  '-c', 'properties')['properties']
        self.assertIsInstance(props, dict, 'server properties as JSON')
        return props

    def response_to(self, server, request):
        value = self.metadata(server).get(
            protocol.response_key(request.volume_id))
        if value is None:
            return None
        response = protocol.parse_response(
            protocol.response_key(request.volume_id), value)
        # pending and granted come first; wait for the final answer
        return response if response.answers(request) and \
            response.final else None

    def grow_as_demo(self):
        """The tenant scenario: boot, attach, request, extended answer."""
        ds = self.ds
        # As demo: a server booted from a volume, with a data volume.
        boot, data = self.name + '-boot', self.name + '-data'
        ds.openstack('volume', 'create', '--size', '1', '--bootable', boot)
        self.wait_for('%s available' % boot,
                      lambda: self.volume_status(boot, 'available'))
        server = ds.openstack('server', 'create', '--flavor', 'm1.tiny',
                              '--volume', boot, '--nic', 'none', '--wait',
                              self.name)
        self.assertEqual('ACTIVE', server['status'])
        volume = ds.openstack('volume', 'create', '--size', '1', data)
        self.wait_for('%s available' % data,
                      lambda: self.volume_status(data, 'available'))
        ds.openstack('server', 'add', 'volume', self.name, data, parse=False)
        self.wait_for('%s in-use' % data,
                      lambda: self.volume_status(data, 'in-use'))

        self.assertNotIn(protocol.response_key(volume['id']),
                         self.metadata(self.name), 'no answer before asking')

        # The guest agent's request, as the agent would encode it.
        request = protocol.ExpansionRequest(
            volume_id=volume['id'], request_id=protocol.new_request_id(),
            seq=1, state=protocol.RequestState.REQUESTED, current_gb=1,
            requested_gb=2, timestamp=int(time.time()), reason='used_pct')
        ds.openstack('server', 'set', '--property',
                     '%s=%s' % (request.key, request.encode()), self.name,
                     parse=False)

        response = self.wait_for(
            'the listener to answer %s' % request.key,
            lambda: self.response_to(self.name, request), timeout=240)
        self.assertEqual(protocol.ResponseState.EXTENDED, response.state,
                         'answer: %s' % response.encode())
        self.assertEqual(2, response.size_gb)
        self.assertEqual(2, ds.openstack('volume', 'show', data)['size'])
        self.assertEqual('active', ds.units().get(LISTENER_UNIT),
                         'the listener is still running')

    # --------------------------------------------------------------- test --

    def test_stack_grow_unstack(self):
        ds = self.ds
        ds.up()
        self.assertEqual('active', ds.units().get(LISTENER_UNIT),
                         'the plugin started the listener')

        with ds.phase('test'):
            self.grow_as_demo()

        # unstack.sh stops VSM's units.
        ds.unstack()
        running = {unit: state for unit, state in ds.units().items()
                   if state in RUNNING}
        self.assertEqual({}, running, 'VSM units still running')
        left = ds.box.run(['pgrep', '-af', 'vsm-authz-listener'],
                          check=False).stdout
        self.assertEqual('', left, 'listener processes after unstack.sh')
