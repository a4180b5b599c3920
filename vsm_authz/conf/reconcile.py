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

"""``[reconcile]``: the periodic catch-up against the Nova API."""

from oslo_config import cfg

GROUP = 'reconcile'

reconcile_opts = [
    cfg.IntOpt('interval', default=300, min=0,
               help='Seconds between two reconciliation runs in the '
                    'listener process; 0 disables the periodic run '
                    '(vsm-authz-listener --reconcile-once still works).'),
    cfg.IntOpt('in_flight_age', default=120, min=0,
               help='Records left received/granted/extending for longer '
                    'than this many seconds are resumed by the '
                    'reconciliation (their worker is presumed dead; a '
                    'live one holds the locks, so resuming it only '
                    'waits).'),
    cfg.IntOpt('initial_delay', default=10, min=0,
               help='Seconds after start before the first periodic run.'),
]


def register_opts(conf):
    conf.register_opts(reconcile_opts, group=GROUP)


def list_opts():
    return [(GROUP, reconcile_opts)]
