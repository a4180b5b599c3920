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

``oslo.config.opts`` entry point ``vsm_authz = vsm_authz.opts:list_opts``;
``etc/vsm/vsm-config-generator.conf`` adds the libraries' namespaces
(oslo.db, oslo.log, oslo.messaging, oslo.limit)::

    oslo-config-generator --config-file etc/vsm/vsm-config-generator.conf

Each module declares its options next to the code that reads them and
exposes ``list_opts()``; this module only collects them. A new module
with options must be added to ``_MODULES``.
"""

import collections
import copy

from vsm_authz import clouds
from vsm_authz.cmd import listener as cmd_listener
from vsm_authz.cmd import manage
from vsm_authz import conf as vsm_conf
from vsm_authz import execute
from vsm_authz import expansion_policy
from vsm_authz import facts
from vsm_authz import limits
from vsm_authz import listener
from vsm_authz import locks
from vsm_authz import pipeline
from vsm_authz import reconcile

_MODULES = (vsm_conf, listener, cmd_listener, pipeline, facts, clouds,
            execute, reconcile, expansion_policy, limits, locks, manage)


def list_opts():
    """``[(group, [opts])]`` of every VSM control-plane option, groups
    merged and sorted (DEFAULT first)."""
    groups = collections.OrderedDict()
    for module in _MODULES:
        for group, opts in module.list_opts():
            name = getattr(group, 'name', group) or 'DEFAULT'
            groups.setdefault(name, []).extend(copy.deepcopy(opts))
    names = sorted(groups, key=lambda n: (n != 'DEFAULT', n))
    return [(name, groups[name]) for name in names]
