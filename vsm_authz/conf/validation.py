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

"""``[validation]``: what VSM knows about Cinder back ends that cannot
extend attached volumes (read by :mod:`vsm_authz.facts`)."""

from oslo_config import cfg

GROUP = 'validation'

validation_opts = [
    cfg.ListOpt('no_online_extend_backends', default=[],
                help='Cinder back ends (volume_backend_name, or the '
                     'host@backend part of the volume host) known not to '
                     'extend attached volumes, for back ends that do not '
                     'report the online_extend_support capability (e.g. '
                     'the NFS driver). Requests for their volumes are '
                     'denied with reason no_online_extend.'),
    cfg.IntOpt('capability_cache_seconds', default=300, min=0,
               help='How long the Cinder pool capabilities and volume '
                    'type extra specs are cached.'),
]


def register_opts(conf):
    conf.register_opts(validation_opts, group=GROUP)


def list_opts():
    return [(GROUP, validation_opts)]
