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

"""``[coordination]``: the tooz backend of the volume and project locks."""

from oslo_config import cfg

GROUP = 'coordination'

coordination_opts = [
    cfg.StrOpt('backend_url',
               default='file://$state_path/locks',
               help='tooz coordination backend for the per-volume and '
                    'per-project locks. The default file backend holds '
                    'across the processes of one host only; use redis://, '
                    'etcd3+http:// or zookeeper:// when listener workers '
                    'run on several hosts.'),
    cfg.FloatOpt('lock_timeout', default=60.0, min=0,
                 help='Seconds to wait for a volume or project lock before '
                      'giving up with LockTimeout (the request is retried '
                      'later). Must exceed the longest expected Cinder '
                      'extend, which runs under the project lock.'),
]


def register_opts(conf):
    conf.register_opts(coordination_opts, group=GROUP)


def list_opts():
    return [(GROUP, coordination_opts)]
