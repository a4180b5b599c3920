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

"""One registration path for every option; the generator finds them all."""

import fixtures
from oslo_config import cfg
import testtools

from vsm_authz import conf as vsm_conf
from vsm_authz.conf import opts
from vsm_authz import locks


class TestRegistration(testtools.TestCase):

    def test_register_and_list(self):
        conf = cfg.ConfigOpts()
        vsm_conf.register_opts(conf)
        vsm_conf.register_opts(conf)   # idempotent
        conf([])
        self.assertEqual('compute', conf.nova.service_type)
        self.assertEqual('block-storage', conf.cinder.service_type)
        self.assertEqual('sqlite:////var/lib/vsm/vsm.sqlite',
                         conf.database.connection)
        groups = dict(opts.list_opts())
        self.assertIn('auth_url', [o.dest for o in groups['service_auth']])

    def test_every_module_is_a_group(self):
        groups = {g for g, _ in opts.list_opts()}
        for module in vsm_conf.group_modules():
            for group, _ in module.list_opts():
                self.assertIn(group, groups)
        self.assertEqual(
            ['cinder', 'coordination', 'database', 'default',
             'expansion_policy', 'extend', 'keystone_bootstrap', 'listener',
             'nova', 'pipeline', 'reconcile', 'service_auth',
             'unified_limits', 'validation'],
            [m.__name__.rsplit('.', 1)[1] for m in vsm_conf.group_modules()])

    def test_constructors_register_nothing(self):
        self.assertRaises(cfg.NoSuchOptError, locks.Locks, cfg.ConfigOpts())

    def test_parse_args_sets_up_oslo_log(self):
        conf = cfg.ConfigOpts()
        setup = self.useFixture(fixtures.MockPatch('oslo_log.log.setup'))
        vsm_conf.parse_args(conf, ['--debug', '--log-file', '/dev/null'],
                            'vsm-test')
        self.assertTrue(conf.debug)
        self.assertEqual('/dev/null', conf.log_file)
        self.assertFalse(conf.use_journal)
        setup.mock.assert_called_once_with(conf, 'vsm')


class TestOpts(testtools.TestCase):
    def test_every_group_once_and_no_duplicate_option(self):
        groups = opts.list_opts()
        names = [g for g, _ in groups]
        self.assertEqual(len(names), len(set(names)))
        self.assertEqual('DEFAULT', names[0])
        for group, options in groups:
            dests = [o.dest for o in options]
            self.assertEqual(len(dests), len(set(dests)), group)
            for o in options:
                self.assertTrue(o.help, '%s.%s has no help' % (group,
                                                               o.name))
        for group in ('expansion_policy', 'unified_limits', 'coordination',
                      'keystone_bootstrap'):
            self.assertIn(group, names)
