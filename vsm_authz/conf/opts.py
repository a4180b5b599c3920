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

"""Every option of the control plane, for oslo-config-generator.

``oslo.config.opts`` entry point ``vsm_authz = vsm_authz.conf.opts:list_opts``;
``etc/vsm/vsm-config-generator.conf`` adds the libraries' namespaces
(oslo.db, oslo.log, oslo.messaging, oslo.limit)::

    oslo-config-generator --config-file etc/vsm/vsm-config-generator.conf

The groups are the modules of :mod:`vsm_authz.conf`, found by
:func:`vsm_authz.conf.group_modules`: a new group is a new module there,
with no list to update here.
"""

import copy

from vsm_authz import conf


def list_opts():
    """``[(group, [opts])]`` of every VSM control-plane option, sorted
    (DEFAULT first)."""
    groups = {}
    for module in conf.group_modules():
        for group, opts in module.list_opts():
            groups.setdefault(group, []).extend(copy.deepcopy(opts))
    names = sorted(groups, key=lambda n: (n != 'DEFAULT', n))
    return [(name, groups[name]) for name in names]
