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

"""VSM's control plane: decides on, and carries out, volume expansions.

Map of the package (one job per module):

=======================  ====================================================
``listener``             oslo.messaging consumer of Nova ``instance.update``
``pipeline``             validate → decide → extend → answer, per request
``clouds``               Nova / Cinder / Keystone adapters
``notifier``             notifications out
``reconcile``            periodic catch-up against the Nova API
``rules/``               the decision engine: :func:`rules.build_engine`
``expansion_policy``     per-project expansion policy (config + DB overrides)
``limits``               Keystone unified limits through oslo.limit
``db/``                  state: requests, volumes, grants, audit (oslo.db)
``locks``                per-volume / per-project critical sections (tooz)
``conf/``                every option, one module per group; ``conf.opts``
                         lists them for oslo-config-generator
``cmd/``                 console scripts (``vsm-manage``, listener)
=======================  ====================================================
"""
