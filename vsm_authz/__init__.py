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
``pipeline``             a server's ``vsm:`` keys → what each entry needs
``validation``           may VSM answer at all? (ownership, Nova and Cinder)
``drive``                moves a record on under its locks: decide, extend
``facts``                the one gathering of facts a decision rests on
``extend``               Cinder ``os-extend`` and the wait for its outcome
``answers``              what ``vsm:resp:`` says, writing and re-asserting it
``audit``                the audit trail (once-per-worker memory)
``errors``               which failures are transient (requeue)
``clients``              Nova / Cinder clients (keystoneauth adapters)
``notifier``             notifications out
``reconcile``            periodic catch-up against the Nova API
``rules/``               the decision engine: :func:`rules.build_engine`
``expansion_policy``     per-project expansion policy (config + DB overrides)
``keystone_limits``      Keystone unified limits through oslo.limit
``db/``                  state (oslo.db): ``api`` the engine; ``expansions``,
                         ``states``, ``volumes``, ``audit_log``,
                         ``policy_overrides`` their queries
``locks``                per-volume / per-project critical sections (tooz)
``conf/``                every option, one module per group; ``conf.opts``
                         lists them for oslo-config-generator
``cmd/``                 console scripts (``vsm-manage``, listener)
=======================  ====================================================
"""
