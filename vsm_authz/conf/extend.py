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

"""``[extend]``: how long VSM waits for Cinder to finish an extend."""

from oslo_config import cfg

GROUP = 'extend'

extend_opts = [
    cfg.FloatOpt('timeout', default=300.0, min=1.0,
                 help='Seconds to wait for Cinder to finish an extend '
                      '(status back to in-use at the new size) before the '
                      'request is failed with reason "timeout".'),
    cfg.FloatOpt('poll_interval', default=0.5, min=0.05,
                 help='First interval between two reads of the volume '
                      'while it extends; doubles up to poll_max_interval.'),
    cfg.FloatOpt('poll_max_interval', default=5.0, min=0.1,
                 help='Longest interval between two reads of the volume.'),
]


def register_opts(conf):
    conf.register_opts(extend_opts, group=GROUP)


def list_opts():
    return [(GROUP, extend_opts)]
