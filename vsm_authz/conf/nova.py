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

"""``[nova]``: the keystoneauth adapter of the Compute API and how VSM
writes server metadata and lists servers."""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

GROUP = 'nova'

nova_opts = [
    cfg.FloatOpt('metadata_write_timeout', default=60.0, min=1.0,
                 help='Seconds to keep retrying a server metadata write '
                      'that Nova refuses with 409 (the server has a task '
                      'state, is locked or is in a transient vm_state).'),
    cfg.IntOpt('list_page_size', default=500, min=1,
               help='Servers per page when the reconciliation lists every '
                    "project's servers (GET /servers/detail?all_tenants)."),
]


def register_opts(conf):
    ks_loading.register_adapter_conf_options(conf, GROUP)
    conf.set_default('service_type', 'compute', group=GROUP)
    conf.register_opts(nova_opts, group=GROUP)


def list_opts():
    opts = ks_loading.get_adapter_conf_options(include_deprecated=False)
    cfg.set_defaults(opts, service_type='compute')
    return [(GROUP, opts + nova_opts)]
