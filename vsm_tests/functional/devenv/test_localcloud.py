"""Smoke tests of the local cloud: the OpenStack behaviour VSM relies on.

Needs the local cloud running (``python -m vsm_devenv.localcloud up``); without
it every test errors with a message that says how to start it. Run:

    python -m stestr --test-path vsm_tests/functional/devenv run
    python -m testtools.run vsm_tests.functional.devenv.test_localcloud

About 30 s in all. What each test proves is in its docstring.
"""

import json
import os
import queue
import time
import urllib.request
import uuid

import fixtures
import kombu
from oslo_config import cfg
import oslo_messaging
import testtools

from vsm_devenv.localcloud.fixture import LocalCloud
from vsm_devenv import nova_driver
from vsm_devenv.wait import wait_for
from vsm_tests.unit.devenv.fake_qmp import FakeQMPServer

GiB = 1024**3


class NotificationRecorder:
    """A real oslo.messaging listener on Nova's VSM topic, own queue."""

    def __init__(self, transport_url, exchange, topic):
        self.events = queue.Queue()
        self.transport_url = transport_url
        # own queue: does not compete with other consumers of the topic
        self.pool = f'vsm-devenv-test-{uuid.uuid4().hex[:8]}'
        self.transport = oslo_messaging.get_notification_transport(
            cfg.ConfigOpts(), url=transport_url
        )
        self.listener = oslo_messaging.get_notification_listener(
            self.transport,
            [oslo_messaging.Target(exchange=exchange, topic=topic)],
            [self],
            executor='threading',
            pool=self.pool,
        )

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.events.put((event_type, payload))

    def start(self):
        self.listener.start()

    def stop(self):
        self.listener.stop()
        self.listener.wait()
        self.transport.cleanup()
        # a pool's queue outlives its consumers and would collect every VSM
        # notification
        with kombu.Connection(
            self.transport_url.replace('rabbit://', 'amqp://', 1)
        ) as conn:
            conn.default_channel.queue_delete(self.pool)

    def wait_for(self, predicate, timeout=30):
        """The payload of the next notification ``predicate`` accepts."""
        def matching():
            try:
                event_type, payload = self.events.get(timeout=0.5)
            except queue.Empty:
                return None
            return payload if predicate(event_type, payload) else None
        return wait_for(matching, timeout, 'a matching notification',
                        interval=0)


class LocalCloudTestCase(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.cloud = self.useFixture(LocalCloud())

    def test_boot_from_volume_then_extend_attached_volume(self):
        """Boot from volume; in-use extend (3.42) of the data volume."""
        vm = self.cloud.create_server_from_volume(data_volume_gb=1)
        self.assertEqual('ACTIVE', vm.server.status)
        self.assertEqual('in-use', vm.data_volume.status)

        volume = self.cloud.extend_volume(vm.data_volume.id, 2)

        self.assertEqual(('in-use', 2), (volume.status, volume.size))
        deadline = time.monotonic() + 30
        actions = []
        while 'extend_volume' not in actions and time.monotonic() < deadline:
            time.sleep(0.3)  # Nova records the external event asynchronously
            actions = [a['action'] for a in self.cloud.instance_actions(
                vm.server.id, cloud='demo')]
        self.assertIn('extend_volume', actions)

    def test_metadata_write_notifies_and_reaches_metadata_service(self):
        """A vsm: PUT notifies on vsm_notifications; the guest sees the key."""
        vm = self.cloud.create_server_from_volume(data_volume_gb=1)
        notif = self.cloud.info['notifications']
        recorder = NotificationRecorder(
            self.cloud.transport_url, notif['exchange'], notif['topic']
        )
        recorder.start()
        self.addCleanup(recorder.stop)
        proxy = self.cloud.metadata_proxy(vm.server.id, vm.server.project_id)

        def meta():
            with urllib.request.urlopen(
                proxy.url + '/openstack/latest/meta_data.json'
            ) as r:
                return json.load(r).get('meta', {})  # no 'meta' when empty

        self.assertEqual({}, meta())  # now cached by nova-metadata

        value = uuid.uuid4().hex
        self.cloud.set_server_metadata_key(vm.server.id, 'vsm:smoke', value)

        payload = recorder.wait_for(
            lambda event, p: (
                event == 'instance.update'
                and p['nova_object.data']['uuid'] == vm.server.id
                and p['nova_object.data']['metadata'].get('vsm:smoke') == value
            )
        )
        volume_ids = {
            b['nova_object.data']['volume_id']
            for b in payload['nova_object.data']['block_devices']
        }
        self.assertIn(vm.data_volume.id, volume_ids)  # bdms_in_notifications
        deadline = (
            time.monotonic()
            + self.cloud.info['metadata']['cache_expiration']
            + 10
        )
        while meta().get('vsm:smoke') != value and time.monotonic() < deadline:
            time.sleep(0.5)
        self.assertEqual(value, meta().get('vsm:smoke'))

    def test_oslo_limit_with_the_vsm_user(self):
        """oslo.limit as the vsm user: project limit and registered default."""
        from oslo_limit import exception as limit_exc
        from oslo_limit import limit

        resource = self.cloud.info['vsm']['limit_resource']
        demo, alt = self.cloud.project_id('demo'), self.cloud.project_id('alt')
        self.cloud.set_project_limit(demo, 10)
        self.cloud.use_oslo_limit()
        enforcer = limit.Enforcer(
            lambda project_id, names: {n: 9 for n in names}
        )

        enforcer.enforce(demo, {resource: 1})
        err = self.assertRaises(
            limit_exc.ProjectOverLimit, enforcer.enforce, demo, {resource: 2}
        )
        self.assertEqual(10, err.over_limit_info_list[0].limit)
        enforcer.enforce(
            alt, {resource: self.cloud.info['vsm']['limit_default'] - 9}
        )
        self.assertRaises(
            limit_exc.ProjectOverLimit,
            enforcer.enforce,
            alt,
            {resource: self.cloud.info['vsm']['limit_default'] - 8},
        )

    def test_application_credential_with_access_rules(self):
        """App credential with access rules: one server's metadata only."""
        vm = self.cloud.create_server_from_volume(data_volume_gb=0)
        path = f'/v2.1/servers/{vm.server.id}/metadata'
        cred = self.cloud.create_application_credential(
            'demo',
            access_rules=[
                {'service': 'compute', 'method': 'PUT', 'path': path + '/*'},
                {'service': 'compute', 'method': 'GET', 'path': path},
            ],
        )
        compute = self.cloud.connect_with_application_credential(cred).compute

        resp = compute.put(
            f'/servers/{vm.server.id}/metadata/vsm:ac',
            json={'meta': {'vsm:ac': '1'}},
            microversion='2.90',
        )
        self.assertEqual(200, resp.status_code)
        resp = compute.get('/servers', microversion='2.90')
        self.assertEqual(401, resp.status_code)  # not in the access rules

    def test_fresh_database(self):
        """create_database returns a usable, empty MariaDB database URL."""
        url = self.cloud.create_database()
        self.assertTrue(url.startswith('mysql+pymysql://'))
        self.assertIn('/vsm_test_', url)

    def test_qmp_driver_resizes_the_registered_disk(self):
        """--nova-driver qmp: Cinder's extend reaches the guest's QMP socket."""
        if self.cloud.info['nova_driver'] != 'qmp':
            self.skipTest('the local cloud runs the fake driver: '
                          'python -m vsm_devenv.localcloud up --reuse '
                          '--nova-driver qmp')
        vm = self.cloud.create_server_from_volume(data_volume_gb=1)
        sock_dir = self.useFixture(fixtures.TempDir(rootdir='/tmp')).path
        qmp = FakeQMPServer(os.path.join(sock_dir, 'qmp.sock'))
        self.addCleanup(qmp.close)
        registry = self.cloud.info['qmp_registry_dir']
        nova_driver.register_volume(registry, vm.data_volume.id, qmp.path,
                                    'vol')
        self.addCleanup(nova_driver.unregister_volume, registry,
                        vm.data_volume.id)

        self.cloud.extend_volume(vm.data_volume.id, 2)

        qmp.thread.join(30)     # nova-compute handles the event async
        self.assertEqual(
            {'execute': 'block_resize',
             'arguments': {'node-name': 'vol', 'size': 2 * GiB}},
            qmp.commands[-1])
