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

"""``[cinder]``: the keystoneauth adapter of the Block Storage API."""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

GROUP = 'cinder'


def register_opts(conf):
    ks_loading.register_adapter_conf_options(conf, GROUP)
    conf.set_default('service_type', 'block-storage', group=GROUP)


def list_opts():
    opts = ks_loading.get_adapter_conf_options(include_deprecated=False)
    cfg.set_defaults(opts, service_type='block-storage')
    return [(GROUP, opts)]
