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

"""Every configuration option of the guest agent: the one place that
lists and registers them.

Options are declared next to the code that reads them: a top-level module
of :mod:`vsm_agent` that has options exposes them as ``list_opts()``,
returning ``[(group, [opts])]``. This module finds those modules itself
(no hand-kept list to forget one in), so the two users below always see
the same options:

* :func:`register_opts` registers them all on a ``ConfigOpts`` — the only
  registration path (``vsm-agent`` and the tests call it; no constructor
  registers options);
* :func:`list_opts` is the ``oslo.config.opts`` entry point
  ``vsm_agent``::

      oslo-config-generator \
          --config-file etc/vsm-agent/vsm-agent-config-generator.conf

``vsm_agent.cmd`` declares no options. Usage classes add
``[usage_class:<name>]`` sections at run time with the options of
``[triggers]`` (see :mod:`vsm_agent.triggers`).
"""

import importlib
import pkgutil
import typing

import vsm_agent


def _modules_with_options() -> typing.List[typing.Any]:
    modules = []
    for info in pkgutil.iter_modules(vsm_agent.__path__):
        if info.ispkg or info.name == 'opts':
            continue
        module = importlib.import_module('vsm_agent.' + info.name)
        if hasattr(module, 'list_opts'):
            modules.append(module)
    return modules


def list_opts() -> typing.List[typing.Tuple[str, list]]:
    """[(group, [opts])] of every vsm-agent option."""
    return [pair for module in _modules_with_options()
            for pair in module.list_opts()]


def register_opts(conf) -> None:
    """Register every option of the agent on ``conf``."""
    for group, opts in list_opts():
        conf.register_opts(opts, group=None if group == 'DEFAULT' else group)
