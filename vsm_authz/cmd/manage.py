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

"""``vsm-manage``: the operator's tool for VSM's database and Keystone.

::

    vsm-manage [--config-file /etc/vsm/vsm.conf] db sync [--revision head]
    vsm-manage db version
    vsm-manage bootstrap [--cloud admin-system]
    vsm-manage policy show --project <id>
    vsm-manage policy set --project <id> max_size_gb=500 dry_run=true
    vsm-manage policy unset --project <id> [max_size_gb ...]

``db sync`` runs the alembic migrations on ``[database] connection``
(default ``sqlite:///$state_path/vsm.sqlite``; MySQL/MariaDB:
``mysql+pymysql://vsm:…@host/vsm?charset=utf8``). ``db version`` prints
the current revision (``None`` before the first sync) and exits 1 when the
schema is behind the code.

``bootstrap`` makes Keystone ready for VSM, idempotently (find, else
create), and prints one line per item saying ``created`` or ``found``:

- service ``[keystone_bootstrap] service_name`` of type ``service_type``
  (``vsm``/``vsm``) and its public endpoint ``public_url`` in
  ``region_name`` — oslo.limit looks limits up through this endpoint;
- roles of the service user ``service_user``: ``project_roles`` on
  ``service_project``, and system-scope ``reader`` (oslo.limit reads
  limits and endpoints with a system-scoped token) — the user is created
  only if missing and ``service_user_password`` is set;
- the registered limit ``[unified_limits] resource_name`` with
  ``default_limit`` GiB in the region (an existing one is left as is:
  changing limits is the admins' job, not an upgrade's).

Admin credentials (a **system-scoped admin** can create registered
limits): the clouds.yaml cloud ``--cloud``/``[keystone_bootstrap] cloud``,
else the standard ``OS_*`` environment (``OS_CLOUD`` included). Exit
status: 0 done, 1 failed (the message says what to fix).
"""

import sys

from oslo_config import cfg
from oslo_log import log as logging

from vsm_authz import conf as vsm_conf
from vsm_authz.conf import keystone_bootstrap
from vsm_authz.db import api as db_api
from vsm_authz.db import audit_log
from vsm_authz.db import migration
from vsm_authz.db import policy_overrides
from vsm_authz import expansion_policy

LOG = logging.getLogger(__name__)


def _out(line=''):
    print(line)


# ------------------------------------------------------------------ db --

def db_sync(conf):
    db_api.configure(conf)
    before = migration.version()
    migration.upgrade(conf.command.revision)
    _out('database at revision %s (was %s)' % (migration.version(), before))
    return 0


def db_version(conf):
    db_api.configure(conf)
    current, head = migration.version(), migration.head()
    _out(str(current))
    if current != head:
        _out('the code expects %s: run "vsm-manage db sync"' % head)
        return 1
    return 0


# ----------------------------------------------------------- bootstrap --

class BootstrapError(Exception):
    """Bootstrap cannot go on; the message says what to fix."""


def _connect(cloud):
    import openstack  # only bootstrap needs the SDK

    return openstack.connect(cloud=cloud) if cloud else openstack.connect()


def _domain(idn, name_or_id):
    domain = idn.find_domain(name_or_id)
    if domain is None:
        raise BootstrapError('domain %s not found' % name_or_id)
    return domain


def _find_or_create(label, find, create):
    existing = find()
    if existing is not None:
        _out('%s: found %s' % (label, existing.id))
        return existing, False
    created = create()
    _out('%s: created %s' % (label, created.id))
    return created, True


def bootstrap(conf, connection=None):
    """Make Keystone ready for VSM; return ``{item: (id, created)}``."""
    opts = conf.keystone_bootstrap
    conn = connection or _connect(conf.command.cloud or opts.cloud)
    idn = conn.identity
    result = {}

    region = idn.find_region(opts.region_name) if hasattr(
        idn, 'find_region') else None
    if region is None:
        try:
            region = idn.get_region(opts.region_name)
        except Exception:
            raise BootstrapError('region %s not found in Keystone'
                                 % opts.region_name)

    def find_service():
        for svc in idn.services(type=opts.service_type):
            if svc.name == opts.service_name:
                return svc
        return None

    service, created = _find_or_create(
        'service %s (type %s)' % (opts.service_name, opts.service_type),
        find_service,
        lambda: idn.create_service(
            name=opts.service_name, type=opts.service_type,
            description='VSM: automatic online growth of VM storage'))
    result['service'] = (service.id, created)

    def find_endpoint():
        for endpoint in idn.endpoints(service_id=service.id,
                                      interface='public',
                                      region_id=region.id):
            return endpoint
        return None

    def create_endpoint():
        if not opts.public_url:
            raise BootstrapError(
                'service %s has no public endpoint in %s and '
                '[%s] public_url is not set' % (opts.service_name, region.id,
                                                keystone_bootstrap.GROUP))
        return idn.create_endpoint(service_id=service.id, interface='public',
                                   url=opts.public_url, region_id=region.id)

    endpoint, created = _find_or_create(
        'public endpoint of %s in %s' % (opts.service_name, region.id),
        find_endpoint, create_endpoint)
    if (not created and opts.public_url
            and endpoint.url.rstrip('/') != opts.public_url.rstrip('/')):
        _out('  note: its URL is %s, not %s; left unchanged'
             % (endpoint.url, opts.public_url))
    result['endpoint'] = (endpoint.id, created)

    user_domain = _domain(idn, opts.service_user_domain)

    def create_user():
        if not opts.service_user_password:
            raise BootstrapError(
                'user %s not found in domain %s; create it or set [%s] '
                'service_user_password' % (opts.service_user,
                                           user_domain.name,
                                           keystone_bootstrap.GROUP))
        return idn.create_user(name=opts.service_user,
                               domain_id=user_domain.id,
                               password=opts.service_user_password)

    user, created = _find_or_create(
        'user %s' % opts.service_user,
        lambda: idn.find_user(opts.service_user, domain_id=user_domain.id),
        create_user)
    result['user'] = (user.id, created)

    project_domain = _domain(idn, opts.service_project_domain)
    project = idn.find_project(opts.service_project,
                               domain_id=project_domain.id)
    if project is None:
        raise BootstrapError('project %s not found in domain %s'
                             % (opts.service_project, project_domain.name))

    def role(name):
        found = idn.find_role(name)
        if found is None:
            raise BootstrapError('role %s not found' % name)
        return found

    for role_name in opts.project_roles:
        r = role(role_name)
        label = 'role %s of %s on project %s' % (role_name, user.name,
                                                 project.name)
        if idn.validate_user_has_project_role(project, user, r):
            _out('%s: found' % label)
            result['role:%s' % role_name] = (r.id, False)
        else:
            idn.assign_project_role_to_user(project, user, r)
            _out('%s: created' % label)
            result['role:%s' % role_name] = (r.id, True)

    if opts.system_reader:
        r = role('reader')
        label = 'system role reader of %s' % user.name
        if idn.validate_user_has_system_role(user, r, 'all'):
            _out('%s: found' % label)
            result['system:reader'] = (r.id, False)
        else:
            idn.assign_system_role_to_user(user=user, role=r, system='all')
            _out('%s: created' % label)
            result['system:reader'] = (r.id, True)

    resource = conf.unified_limits.resource_name

    def find_limit():
        for limit in idn.registered_limits(service_id=service.id,
                                           region_id=region.id,
                                           resource_name=resource):
            return limit
        return None

    limit, created = _find_or_create(
        'registered limit %s' % resource, find_limit,
        lambda: idn.create_registered_limit(
            service_id=service.id, region_id=region.id,
            resource_name=resource, default_limit=opts.default_limit,
            description='Total GiB of a project\'s Cinder volumes that '
                        'VSM may grow to'))
    _out('  default %s GiB' % limit.default_limit)
    result['registered_limit'] = (limit.id, created)

    _out()
    _out('Configure the services with:')
    _out('  [oslo_limit]')
    _out('  endpoint_id = %s' % endpoint.id)
    _out('  system_scope = all')
    _out('  username = %s' % user.name)
    return result


def do_bootstrap(conf):
    from keystoneauth1 import exceptions as ksa_exceptions
    from openstack import exceptions as sdk_exceptions

    try:
        bootstrap(conf)
    except BootstrapError as exc:
        _out('bootstrap failed: %s' % exc)
        return 1
    except (ksa_exceptions.ClientException,
            sdk_exceptions.SDKException) as exc:
        _out('bootstrap failed talking to Keystone (check the admin '
             'credentials: --cloud or OS_*): %s' % exc)
        return 1
    return 0


# -------------------------------------------------------------- policy --

def policy_show(conf):
    db_api.configure(conf)
    project = conf.command.project
    overrides = policy_overrides.get_policy_overrides(project)
    policy = expansion_policy.effective_policy(conf, policy_overrides,
                                               project)
    for name in expansion_policy.FIELDS:
        _out('%-28s %-8s %s' % (name, getattr(policy, name),
                                '(project override)' if name in overrides
                                else ''))
    return 0


def _parse_assignments(items):
    pairs = {}
    for item in items:
        name, sep, value = item.partition('=')
        if not sep:
            raise ValueError('expected name=value, got %r' % item)
        pairs[name.strip()] = value.strip()
    return pairs


def policy_set(conf):
    db_api.configure(conf)
    project = conf.command.project
    try:
        changes = expansion_policy.validate_overrides(
            _parse_assignments(conf.command.assignments))
    except ValueError as exc:
        _out('policy set failed: %s' % exc)
        return 1
    overrides = policy_overrides.get_policy_overrides(project)
    overrides.update(changes)
    policy_overrides.set_policy_overrides(project, overrides)
    audit_log.audit('policy.set', project_id=project, detail=changes)
    return policy_show(conf)


def policy_unset(conf):
    db_api.configure(conf)
    project = conf.command.project
    overrides = policy_overrides.get_policy_overrides(project)
    names = conf.command.names or list(overrides)
    for name in names:
        overrides.pop(name, None)
    policy_overrides.set_policy_overrides(project, overrides)
    audit_log.audit('policy.unset', project_id=project, detail=names)
    return policy_show(conf)


# ---------------------------------------------------------------- main --

def add_command_parsers(subparsers):
    db = subparsers.add_parser('db', help='database schema')
    db_actions = db.add_subparsers(dest='action')
    db_actions.required = True
    sync = db_actions.add_parser('sync', help='upgrade the schema')
    sync.add_argument('--revision', default='head',
                      help='alembic revision to upgrade to')
    sync.set_defaults(func=db_sync)
    version = db_actions.add_parser('version', help='print the revision')
    version.set_defaults(func=db_version)

    boot = subparsers.add_parser(
        'bootstrap', help='create/find the Keystone service, endpoint, '
                          'service-user roles and registered limit')
    boot.add_argument('--cloud', default=None,
                      help='clouds.yaml cloud with admin credentials '
                           '(overrides [keystone_bootstrap] cloud)')
    boot.set_defaults(func=do_bootstrap)

    policy = subparsers.add_parser('policy',
                                   help='per-project expansion policy')
    policy_actions = policy.add_subparsers(dest='action')
    policy_actions.required = True
    show = policy_actions.add_parser('show', help='the effective policy')
    show.add_argument('--project', required=True)
    show.set_defaults(func=policy_show)
    pset = policy_actions.add_parser('set', help='override fields')
    pset.add_argument('--project', required=True)
    pset.add_argument('assignments', nargs='+', metavar='name=value')
    pset.set_defaults(func=policy_set)
    unset = policy_actions.add_parser(
        'unset', help='drop overrides (all when no name is given)')
    unset.add_argument('--project', required=True)
    unset.add_argument('names', nargs='*', metavar='name')
    unset.set_defaults(func=policy_unset)


command_opt = cfg.SubCommandOpt('command', title='Commands',
                                handler=add_command_parsers,
                                help='vsm-manage commands')


def main(argv=None, conf=None):
    conf = cfg.CONF if conf is None else conf
    vsm_conf.parse_args(conf, sys.argv[1:] if argv is None else argv,
                        'vsm-manage', [command_opt], product='vsm-manage')
    return conf.command.func(conf)


if __name__ == '__main__':
    sys.exit(main())
