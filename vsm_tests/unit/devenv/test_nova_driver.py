"""QMPFakeDriver's QMP path against a fake QEMU monitor (unix socket).

The driver class itself needs Nova; its tests run only where nova is importable
(the local cloud's services venv: ``$ROOT/venv/bin/python -m testtools.run
vsm_tests.unit.devenv.test_nova_driver`` with the repo on PYTHONPATH).
"""

import os
import unittest
from unittest import mock

import fixtures
import testtools

from vsm_devenv import nova_driver
from vsm_tests.unit.devenv.fake_qmp import FakeQMPServer


class _QMPBase(testtools.TestCase):
    def setUp(self):
        super().setUp()
        # a short path: unix socket paths are limited to 107 bytes
        self.dir = self.useFixture(fixtures.TempDir(rootdir='/tmp')).path
        self.qmp_path = os.path.join(self.dir, 'qmp.sock')

    def serve(self, **kw):
        server = FakeQMPServer(self.qmp_path, **kw)
        self.addCleanup(server.close)
        return server


class QMPTestCase(_QMPBase):
    def test_block_resize_sends_node_and_bytes(self):
        server = self.serve()
        nova_driver.block_resize(self.qmp_path, 'vol', 3 * 1024**3)
        server.thread.join(5)
        self.assertEqual(
            [
                {'execute': 'qmp_capabilities'},
                {
                    'execute': 'block_resize',
                    'arguments': {'node-name': 'vol', 'size': 3 * 1024**3},
                },
            ],
            server.commands,
        )

    def test_qmp_error_is_raised(self):
        self.serve(fail_with="Cannot find device='nope' nor node-name='nope'")
        self.assertRaisesRegex(
            nova_driver.QMPError,
            'block_resize: Cannot find',
            nova_driver.block_resize,
            self.qmp_path,
            'nope',
            1,
        )

    def test_registered_volume_is_resized(self):
        server = self.serve()
        registry = os.path.join(self.dir, 'registry')
        nova_driver.register_volume(registry, 'v-1', self.qmp_path, 'vol')
        resized = nova_driver.resize_registered_volume(
            registry, {'serial': 'v-1', 'data': {}}, 2 * 1024**3
        )
        server.thread.join(5)
        self.assertTrue(resized)
        self.assertEqual(2 * 1024**3, server.commands[-1]['arguments']['size'])

    def test_unregistered_volume_is_left_alone(self):
        registry = os.path.join(self.dir, 'registry')
        nova_driver.register_volume(registry, 'v-1', self.qmp_path, 'vol')
        nova_driver.unregister_volume(registry, 'v-1')
        self.assertFalse(
            nova_driver.resize_registered_volume(
                registry, {'serial': 'v-1'}, 1
            )
        )
        self.assertFalse(nova_driver.resize_registered_volume(registry, {}, 1))

    def test_volume_id_from_connection_info(self):
        self.assertEqual('a', nova_driver.volume_id_of({'serial': 'a'}))
        self.assertEqual(
            'b', nova_driver.volume_id_of({'data': {'volume_id': 'b'}})
        )
        self.assertIsNone(nova_driver.volume_id_of({'data': {}}))


@unittest.skipIf(nova_driver._nova_fake is None, 'nova is not installed here')
class DriverTestCase(_QMPBase):
    def test_extend_volume_dispatch(self):
        server = self.serve()
        registry = os.path.join(self.dir, 'registry')
        nova_driver.register_volume(registry, 'v-1', self.qmp_path, 'vol')
        driver = nova_driver.QMPFakeDriver.__new__(nova_driver.QMPFakeDriver)
        instance = mock.Mock(uuid='i-1')
        with mock.patch.object(
            nova_driver._nova_fake.FakeDriver, 'extend_volume'
        ) as base:
            nova_driver._cfg.CONF.set_override(
                'qmp_registry_dir', registry, 'vsm_test'
            )
            self.addCleanup(
                nova_driver._cfg.CONF.clear_override,
                'qmp_registry_dir',
                'vsm_test',
            )
            driver.extend_volume(
                None, {'serial': 'v-1'}, instance, 5 * 1024**3
            )
            driver.extend_volume(None, {'serial': 'other'}, instance, 7)
        server.thread.join(5)
        self.assertEqual(5 * 1024**3, server.commands[-1]['arguments']['size'])
        base.assert_called_once_with(None, {'serial': 'other'}, instance, 7)
