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

"""vsm-manage: db sync/version, policy commands, and bootstrap against an
in-memory fake of openstacksdk's identity proxy."""

import io
import types

import fixtures
from oslo_config import cfg
import testtools

from vsm_authz.cmd import manage
from vsm_authz.db import api as db_api
from vsm_authz.db import audit_log


class ManageTestCase(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.state = self.useFixture(fixtures.TempDir()).path
        self.conf_file = self.state + '/vsm.conf'
        with open(self.conf_file, 'w') as f:
            f.write('[DEFAULT]\nstate_path = %s\n' % self.state)
        self.stdout = self.useFixture(
            fixtures.MonkeyPatch('sys.stdout', io.StringIO())).new_value
        self.addCleanup(db_api.configure_reset)

    def run_manage(self, *argv):
        conf = cfg.ConfigOpts()
        self.stdout.seek(0)
        self.stdout.truncate()
        rc = manage.main(['--config-file', self.conf_file] + list(argv),
                         conf=conf)
        return rc, self.stdout.getvalue()


class TestDb(ManageTestCase):
    def test_version_sync_version(self):
        rc, out = self.run_manage('db', 'version')
        self.assertEqual(1, rc)
        self.assertIn('run "vsm-manage db sync"', out)
        rc, out = self.run_manage('db', 'sync')
        self.assertEqual(0, rc)
        self.assertIn('database at revision 0001_initial (was None)', out)
        rc, out = self.run_manage('db', 'version')
        self.assertEqual(0, rc)
        self.assertIn('0001_initial\n', out)
        rc, out = self.run_manage('db', 'sync')  # idempotent
        self.assertEqual(0, rc)


class TestPolicy(ManageTestCase):
    def setUp(self):
        super().setUp()
        self.run_manage('db', 'sync')

    def test_set_show_unset(self):
        rc, out = self.run_manage('policy', 'set', '--project', 'p1',
                                  'max_size_gb=50', 'dry_run=true')
        self.assertEqual(0, rc)
        self.assertRegex(out, r'max_size_gb +50 +\(project override\)')
        self.assertRegex(out, r'dry_run +True +\(project override\)')
        rc, out = self.run_manage('policy', 'unset', '--project', 'p1',
                                  'dry_run')
        self.assertRegex(out, r'dry_run +False')
        self.assertRegex(out, r'max_size_gb +50 +\(project override\)')
        self.assertEqual(
            ['policy.unset', 'policy.set'],
            [e.event for e in audit_log.list_audit(project_id='p1')])

    def test_set_rejects_bad_values(self):
        rc, out = self.run_manage('policy', 'set', '--project', 'p1',
                                  'max_size_gb=lots')
        self.assertEqual(1, rc)
        self.assertIn('max_size_gb must be an integer', out)


# --------------------------------------------------------- fake identity --

def _res(**kw):
    return types.SimpleNamespace(**kw)


class FakeIdentity:
    """Just enough of openstack.identity.v3._proxy.Proxy for bootstrap."""

    def __init__(self):
        self.regions = {'RegionOne': _res(id='RegionOne')}
        self.domains = [_res(id='default', name='Default')]
        self.projects = [_res(id='p-svc', name='service',
                              domain_id='default')]
        self.users = [_res(id='u-vsm', name='vsm', domain_id='default')]
        self.roles = [_res(id='r-%s' % n, name=n)
                      for n in ('admin', 'member', 'reader', 'service')]
        self.services_, self.endpoints_, self.reg_limits = [], [], []
        self.project_roles, self.system_roles = set(), set()
        self.created = []

    def _new(self, kind, **kw):
        self.created.append(kind)
        return _res(id='%s-%d' % (kind, len(self.created)), **kw)

    def find_region(self, name):
        return self.regions.get(name)

    def find_domain(self, name):
        return next((d for d in self.domains
                     if name in (d.id, d.name)), None)

    def services(self, type=None):
        return [s for s in self.services_ if s.type == type]

    def create_service(self, name, type, description):
        svc = self._new('service', name=name, type=type)
        self.services_.append(svc)
        return svc

    def endpoints(self, service_id, interface, region_id):
        return [e for e in self.endpoints_ if (e.service_id, e.interface,
                                               e.region_id)
                == (service_id, interface, region_id)]

    def create_endpoint(self, service_id, interface, url, region_id):
        ep = self._new('endpoint', service_id=service_id,
                       interface=interface, url=url, region_id=region_id)
        self.endpoints_.append(ep)
        return ep

    def find_user(self, name, domain_id):
        return next((u for u in self.users if u.name == name
                     and u.domain_id == domain_id), None)

    def create_user(self, name, domain_id, password):
        user = self._new('user', name=name, domain_id=domain_id)
        self.users.append(user)
        return user

    def find_project(self, name, domain_id):
        return next((p for p in self.projects if p.name == name
                     and p.domain_id == domain_id), None)

    def find_role(self, name):
        return next((r for r in self.roles if r.name == name), None)

    def validate_user_has_project_role(self, project, user, role):
        return (project.id, user.id, role.id) in self.project_roles

    def assign_project_role_to_user(self, project, user, role):
        self.created.append('project_role')
        self.project_roles.add((project.id, user.id, role.id))

    def validate_user_has_system_role(self, user, role, system):
        return (user.id, role.id) in self.system_roles

    def assign_system_role_to_user(self, user, role, system):
        self.created.append('system_role')
        self.system_roles.add((user.id, role.id))

    def registered_limits(self, service_id, region_id, resource_name):
        return [rl for rl in self.reg_limits
                if (rl.service_id, rl.region_id, rl.resource_name)
                == (service_id, region_id, resource_name)]

    def create_registered_limit(self, service_id, region_id, resource_name,
                                default_limit, description):
        rl = self._new('registered_limit', service_id=service_id,
                       region_id=region_id, resource_name=resource_name,
                       default_limit=default_limit)
        self.reg_limits.append(rl)
        return rl


class TestBootstrap(ManageTestCase):
    def setUp(self):
        super().setUp()
        self.identity = FakeIdentity()
        self.useFixture(fixtures.MonkeyPatch(
            'vsm_authz.cmd.manage._connect',
            lambda cloud: _res(identity=self.identity)))
        with open(self.conf_file, 'a') as f:
            f.write('[keystone_bootstrap]\npublic_url = http://vsm:8790\n'
                    'default_limit = 500\n')

    def test_creates_then_finds(self):
        rc, out = self.run_manage('bootstrap')
        self.assertEqual(0, rc, out)
        self.assertEqual(['service', 'endpoint', 'project_role',
                          'system_role', 'registered_limit'],
                         self.identity.created)
        self.assertIn('registered limit vsm_storage_gigabytes: created', out)
        self.assertIn('default 500 GiB', out)
        self.assertIn('endpoint_id = endpoint-2', out)
        rc, out = self.run_manage('bootstrap')
        self.assertEqual(0, rc, out)
        self.assertEqual(5, len(self.identity.created))  # nothing new
        self.assertNotIn(': created', out)
        self.assertEqual(6, out.count(': found'))

    def test_missing_user_needs_password(self):
        self.identity.users = []
        rc, out = self.run_manage('bootstrap')
        self.assertEqual(1, rc)
        self.assertIn('service_user_password', out)
        with open(self.conf_file, 'a') as f:
            f.write('service_user_password = secret\n')
        rc, out = self.run_manage('bootstrap')
        self.assertEqual(0, rc, out)
        self.assertIn('user vsm: created', out)

    def test_no_endpoint_and_no_url(self):
        with open(self.conf_file, 'w') as f:
            f.write('[DEFAULT]\nstate_path = %s\n' % self.state)
        rc, out = self.run_manage('bootstrap')
        self.assertEqual(1, rc)
        self.assertIn('public_url is not set', out)
