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

"""``[service_auth]``: the keystoneauth credentials and session VSM calls
Nova and Cinder with."""

from keystoneauth1 import loading as ks_loading

GROUP = 'service_auth'


def register_opts(conf):
    ks_loading.register_auth_conf_options(conf, GROUP)
    ks_loading.register_session_conf_options(conf, GROUP)


def list_opts():
    auth_opts = ks_loading.get_auth_common_conf_options()
    auth_opts += ks_loading.get_auth_plugin_conf_options('password')
    return [(GROUP, auth_opts + ks_loading.get_session_conf_options())]
