"""The local cloud's generated configuration carries what VSM relies on."""

import configparser

import testtools

from vsm_devenv.localcloud import config
from vsm_devenv.localcloud import layout


class NovaConfTestCase(testtools.TestCase):
    def _nova(self, **kw):
        text = config.nova_conf(layout.Layout('/tmp/x'), config.Options(**kw))
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(text)
        return parser

    def test_metadata_writes_are_notified_on_the_vsm_topic(self):
        conf = self._nova()
        self.assertEqual('vm_and_task_state',
                         conf['notifications']['notify_on_state_change'])
        self.assertEqual('both', conf['notifications']['notification_format'])
        self.assertEqual('true',
                         conf['notifications']['bdms_in_notifications'])
        self.assertIn('vsm_notifications', conf['notifications'][
            'versioned_notifications_topics'])
        self.assertEqual('messagingv2',
                         conf['oslo_messaging_notifications']['driver'])
        self.assertIn('vsm_notifications',
                      conf['oslo_messaging_notifications']['topics'])

    def test_access_rules_and_metadata_proxy(self):
        conf = self._nova(metadata_cache_expiration=7)
        self.assertEqual('compute', conf['keystone_authtoken']['service_type'])
        self.assertEqual('true', conf['neutron']['service_metadata_proxy'])
        self.assertEqual('7', conf['api']['metadata_cache_expiration'])

    def test_nova_driver_choice(self):
        self.assertEqual('vsm_devenv.nova_driver.QMPFakeDriver',
                         self._nova(nova_driver='qmp')['DEFAULT'][
                             'compute_driver'])
        self.assertIn('FakeDriver',
                      self._nova()['DEFAULT']['compute_driver'])

    def test_every_file_renders(self):
        files = config.render_all(layout.Layout('/tmp/x'), config.Options())
        for name in ('keystone.conf', 'cinder/cinder.conf', 'nova/nova.conf',
                     'neutron/neutron.conf', 'placement/placement.conf',
                     'clouds.yaml', 'rabbitmq/rabbitmq.conf'):
            self.assertIn(name, files)
