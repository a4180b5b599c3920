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

"""The agent's one option registry: nothing declared is left out."""

import importlib
import pkgutil

from oslo_config import cfg
import testtools

import vsm_agent
from vsm_agent import opts


def _all_modules():
    for info in pkgutil.walk_packages(vsm_agent.__path__, 'vsm_agent.'):
        yield importlib.import_module(info.name)


class TestOpts(testtools.TestCase):

    def test_every_declared_option_is_listed(self):
        listed = {id(opt) for _, group_opts in opts.list_opts()
                  for opt in group_opts}
        for module in _all_modules():
            for name, value in vars(module).items():
                if isinstance(value, list) and value and all(
                        isinstance(o, cfg.Opt) for o in value):
                    missing = [o.name for o in value if id(o) not in listed]
                    self.assertEqual([], missing, '%s.%s' % (
                        module.__name__, name))

    def test_one_registration_path(self):
        for module in _all_modules():
            if module is not opts:
                self.assertFalse(hasattr(module, 'register_opts'),
                                 module.__name__)
        conf = cfg.ConfigOpts()
        opts.register_opts(conf)
        self.assertEqual(
            {'DEFAULT', 'agent', 'alerts', 'discovery', 'nova', 'sizing',
             'triggers'}, {group for group, _ in opts.list_opts()})
        conf([], default_config_files=[])
        for group, group_opts in opts.list_opts():
            values = conf if group == 'DEFAULT' else conf[group]
            for opt in group_opts:
                self.assertEqual(opt.default, values[opt.dest])
