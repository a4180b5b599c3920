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

"""Shared set-up of the end-to-end tier: one loop per test class.

Booting a server, a QEMU guest and laying out disks costs ~30 s under TCG,
so a test class builds one :class:`~vsm_devenv.closedloop.ClosedLoop` in
``setUpClass`` and its tests share it (``stestr --concurrency 1``). Each
test uses its own volume of that loop, so tests do not depend on each
other's order. Skips (not failures) when the local cloud is not up or does
not run the QMP driver: ``tox -e e2e`` brings it up first.
"""

import logging
import os
import unittest

import testtools
from testtools import content

from vsm_devenv import closedloop

LOG = logging.getLogger(__name__)


def skip_unless_loop_can_run():
    problem = closedloop.unavailable()
    if problem:
        raise unittest.SkipTest(problem)
    if not os.path.exists('/dev/kvm') and os.geteuid() != 0:
        raise unittest.SkipTest('needs root (QEMU guest, local cloud)')


class LoopTestCase(testtools.TestCase):
    """A TestCase whose class shares one ClosedLoop (``cls.loop``)."""

    #: VolumeSpec keyword dicts: ``VOLUMES = [dict(name=..., size_gb=...)]``
    VOLUMES = ()
    LIMIT_GB = None
    AGENT = False
    LISTENER = False
    AGENT_OPTIONS = None
    LISTENER_OPTIONS = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        skip_unless_loop_can_run()
        cls.loop = closedloop.ClosedLoop(
            volumes=[closedloop.VolumeSpec(**v) for v in cls.VOLUMES],
            limit_gb=cls.LIMIT_GB,
            agent=cls.AGENT,
            listener=cls.LISTENER,
            agent_options=cls.AGENT_OPTIONS,
            listener_options=cls.LISTENER_OPTIONS,
            name='vsm-e2e-' + cls.__name__.lower()[:12],
        )
        # on failure, fixtures' setUp runs the cleanups of what was made
        cls.loop.setUp()
        LOG.info('closed loop ready: %s', cls.loop.describe())

    @classmethod
    def tearDownClass(cls):
        loop = getattr(cls, 'loop', None)
        if loop is not None:
            loop.cleanUp()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.addDetail('loop', content.text_content(self.loop.describe()))
        self.addOnException(self._attach_logs)

    def _attach_logs(self, exc_info):
        text = content.text_content
        self.addDetail('agent-log', text(self.loop.agent_log()[-20000:]))
        if self.loop.listener is not None:
            self.addDetail(
                'listener-log', text(self.loop.listener.tail(20000))
            )
        self.addDetail(
            'console', text(self.loop.guest.console_output()[-5000:])
        )
        try:
            meta = self.loop.cloud.server_metadata(self.loop.server_id)
            self.addDetail('metadata', text(repr(meta)))
        except Exception as e:
            self.addDetail('metadata', text('unavailable: %r' % e))
