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

"""Options shared by several control-plane modules.

Only options that no single module owns live here: ``[DEFAULT]
state_path``, the directory under which the default SQLite database
(``$state_path/vsm.sqlite``) and the default lock directory
(``$state_path/locks``) live. Every other option is declared next to the
code that reads it and collected by :mod:`vsm_authz.opts`.

Usage::

    from vsm_authz import conf as vsm_conf
    vsm_conf.register_opts(conf)       # idempotent
    conf.state_path
"""

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
    """Register the shared options on ``conf`` (safe to call repeatedly)."""
    conf.register_opts(common_opts)


def list_opts():
    return [('DEFAULT', common_opts)]
