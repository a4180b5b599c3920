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

"""``[expansion_policy]``: the default expansion policy of every project
(per-project overrides live in the database)."""

from oslo_config import cfg

GROUP = 'expansion_policy'

expansion_policy_opts = [
    cfg.IntOpt('max_size_gb', default=1024, min=0,
               help='Never grow a volume beyond this size (GiB); 0 = no '
                    'cap beyond quotas and limits.'),
    cfg.IntOpt('min_step_gb', default=1, min=1,
               help='Smallest growth of one grant (GiB): smaller requests '
                    'are rounded up.'),
    cfg.IntOpt('max_step_gb', default=100, min=0,
               help='Largest growth of one grant (GiB): larger requests '
                    'are cut down; 0 = no cap.'),
    cfg.IntOpt('cooldown_seconds', default=30, min=0,
               help='Minimum time between two grants of one volume; '
                    'earlier requests are denied with a retry time.'),
    cfg.IntOpt('max_grants_per_hour', default=30, min=0,
               help='Most grants of one volume in any sliding hour; 0 = '
                    'no cap.'),
    cfg.IntOpt('max_grants_per_day', default=200, min=0,
               help='Most grants of one volume in any sliding day; 0 = '
                    'no cap.'),
    cfg.FloatOpt('runaway_factor', default=10.0, min=0,
                 help='Runaway-growth cap: within runaway_window_seconds '
                      'a volume may grow to at most this multiple of its '
                      'size at the start of the window; beyond, requests '
                      'are denied until a human looks. 0 = off.'),
    cfg.IntOpt('runaway_window_seconds', default=86400, min=1,
               help='Sliding window of the runaway-growth cap.'),
    cfg.IntOpt('auto_grants_before_approval', default=0, min=0,
               help='Escalation: after this many automatic grants of a '
                    'volume (since its last approved grant) requests wait '
                    'for an operator\'s approval. 0 = always automatic.'),
    cfg.BoolOpt('dry_run', default=False,
                help='Decide and audit, but never extend: grants are '
                     'answered as denials with reason dry_run and logged '
                     'with the size that would have been granted.'),
]


def register_opts(conf):
    conf.register_opts(expansion_policy_opts, group=GROUP)


def list_opts():
    return [(GROUP, expansion_policy_opts)]
