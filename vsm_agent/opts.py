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

"""Every configuration option of the guest agent, for oslo-config-generator.

Options are declared next to the code that reads them; this module only
collects them (``oslo.config.opts`` entry point ``vsm_agent``)::

    oslo-config-generator \
        --config-file etc/vsm-agent/vsm-agent-config-generator.conf

Usage classes add ``[usage_class:<name>]`` sections at run time with the
options of ``[triggers]`` (see :mod:`vsm_agent.triggers`).
"""

from vsm_agent import alerts
from vsm_agent import channel
from vsm_agent.cmd import agent as cmd_agent
from vsm_agent import discovery
from vsm_agent import service
from vsm_agent import sizing
from vsm_agent import triggers


def list_opts():
    """[(group, [opts])] of every vsm-agent option."""
    return (cmd_agent.list_opts() + service.list_opts()
            + discovery.list_opts() + triggers.list_opts()
            + sizing.list_opts() + channel.list_opts() + alerts.list_opts())
