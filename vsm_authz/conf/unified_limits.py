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

"""``[unified_limits]``: the Keystone unified limit VSM checks every grant
against; registers oslo.limit's own ``[oslo_limit]`` options too (listed
by the ``oslo.limit`` namespace of the sample configuration)."""

from oslo_config import cfg
from oslo_limit import opts as limit_opts

GROUP = 'unified_limits'
DEFAULT_RESOURCE_NAME = 'vsm_storage_gigabytes'

unified_limits_opts = [
    cfg.BoolOpt('enabled', default=True,
                help='Check every grant against the Keystone unified limit '
                     'below. When disabled, only VSM\'s expansion policy '
                     'and Cinder quotas bound growth.'),
    cfg.StrOpt('resource_name', default=DEFAULT_RESOURCE_NAME,
               help='Keystone unified-limit resource that caps the total '
                    'GiB of a project\'s Cinder volumes. Must be '
                    'registered for the vsm service in this region '
                    '(vsm-manage bootstrap does it).'),
    cfg.IntOpt('cache_seconds', default=60, min=0,
               help='How long Keystone limits are cached before they are '
                    'read again; 0 reads them on every check.'),
]


def register_opts(conf):
    conf.register_opts(unified_limits_opts, group=GROUP)
    # oslo.limit registers its auth options on cfg.CONF whatever we pass.
    limit_opts.register_opts(conf)


def list_opts():
    return [(GROUP, unified_limits_opts)]
