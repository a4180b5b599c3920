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

"""``[keystone_bootstrap]``: what ``vsm-manage bootstrap`` creates in
Keystone."""

from oslo_config import cfg

GROUP = 'keystone_bootstrap'

bootstrap_opts = [
    cfg.StrOpt('cloud',
               help='clouds.yaml cloud with admin credentials for '
                    '"vsm-manage bootstrap" (system-scoped admin). Unset: '
                    'the standard OS_* environment variables.'),
    cfg.StrOpt('region_name', default='RegionOne',
               help='Keystone region of the endpoint and registered limit.'),
    cfg.StrOpt('service_name', default='vsm',
               help='Name of VSM\'s service in the Keystone catalog.'),
    cfg.StrOpt('service_type', default='vsm',
               help='Type of VSM\'s service in the Keystone catalog.'),
    cfg.URIOpt('public_url',
               help='URL of VSM\'s public endpoint (the VSM API). Needed to '
                    'create the endpoint; oslo.limit only needs it to '
                    'exist.'),
    cfg.StrOpt('service_user', default='vsm',
               help='Keystone user the VSM services run as.'),
    cfg.StrOpt('service_user_domain', default='Default',
               help='Domain (name or id) of the service user.'),
    cfg.StrOpt('service_user_password', secret=True,
               help='Create the service user with this password if it does '
                    'not exist (unset: the user must exist).'),
    cfg.StrOpt('service_project', default='service',
               help='Project the service user gets project_roles on.'),
    cfg.StrOpt('service_project_domain', default='Default',
               help='Domain (name or id) of the service project.'),
    cfg.ListOpt('project_roles', default=['service'],
                help='Roles of the service user on the service project '
                     '(Nova and Cinder calls on behalf of VSM).'),
    cfg.BoolOpt('system_reader', default=True,
                help='Give the service user the system-scope reader role, '
                     'which oslo.limit needs to read limits.'),
    cfg.IntOpt('default_limit', default=1000, min=-1,
               help='Registered (default) limit, in GiB, of the unified '
                    'limit resource, when bootstrap creates it; -1 = '
                    'unlimited.'),
]


def register_opts(conf):
    conf.register_opts(bootstrap_opts, group=GROUP)


def list_opts():
    return [(GROUP, bootstrap_opts)]
