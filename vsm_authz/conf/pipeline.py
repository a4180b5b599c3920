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

"""``[pipeline]``: which projects VSM serves, and when a request for a
volume that is not in-use may be asked again."""

from oslo_config import cfg

GROUP = 'pipeline'

pipeline_opts = [
    cfg.IntOpt('not_in_use_retry_seconds', default=60, min=0,
               help='A request for a volume that is not in-use (attaching, '
                    'extending, ...) is denied with "retry after" this '
                    'many seconds, so the agent asks again later.'),
    cfg.ListOpt('projects', default=[],
                help='Serve only these project ids (a pilot, or tests on '
                     'a shared cloud); empty serves every project. '
                     'Requests of other projects are ignored, not '
                     'answered.'),
]


def register_opts(conf):
    conf.register_opts(pipeline_opts, group=GROUP)


def list_opts():
    return [(GROUP, pipeline_opts)]
