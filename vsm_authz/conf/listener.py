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

"""``[listener]``: the notification consumer and its worker processes."""

from oslo_config import cfg

GROUP = 'listener'

listener_opts = [
    cfg.StrOpt('exchange', default='nova',
               help="Exchange Nova publishes on (its control_exchange, "
                    "'nova' by default; not 'openstack')."),
    cfg.ListOpt('topics', default=['vsm_notifications'],
                help='Topics to consume. Use a topic dedicated to VSM and '
                     'add it to Nova\'s versioned_notifications_topics '
                     'and [oslo_messaging_notifications] topics: VSM '
                     'consumes every message of these topics.'),
    cfg.ListOpt('event_types',
                default=['instance.update', 'compute.instance.update'],
                help='Event types handled (versioned, legacy); with '
                     'notification_format=both keeping one halves the '
                     'work.'),
    cfg.StrOpt('pool',
               help='Listener pool (queue) name. Leave unset: all workers '
                    'then compete on the topic\'s one queue. Set it only '
                    'to run an independent VSM deployment (or a test) on '
                    'the same topic; each pool gets its own copy of every '
                    'message and its queue stays after it stops.'),
    cfg.FloatOpt('requeue_delay', default=1.0, min=0.0,
                 help='Seconds to wait before requeueing a message after a '
                      'transient error, so an unreachable cloud is not '
                      'polled in a tight loop.'),
]

worker_opts = [
    cfg.IntOpt('workers', default=1, min=1,
               help='Listener worker processes. They compete on one queue; '
                    'use MySQL/MariaDB for [database] when > 1 (SQLite is '
                    'for one process).'),
]


def register_opts(conf):
    conf.register_opts(listener_opts + worker_opts, group=GROUP)


def list_opts():
    return [(GROUP, listener_opts + worker_opts)]
