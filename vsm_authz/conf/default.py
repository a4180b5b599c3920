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

"""``[DEFAULT]``: ``state_path``, under which the default SQLite database
(``$state_path/vsm.sqlite``) and the default lock directory
(``$state_path/locks``) live."""

from oslo_config import cfg

common_opts = [
    cfg.StrOpt('state_path',
               default='/var/lib/vsm',
               help='Directory where the VSM control plane keeps its local '
                    'state: the default SQLite database and the default '
                    'tooz file-lock directory. Must be writable by the '
                    'service user.'),
]


def register_opts(conf):
    conf.register_opts(common_opts)


def list_opts():
    return [('DEFAULT', common_opts)]
