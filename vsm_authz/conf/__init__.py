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

"""Every option of VSM's control plane, one module per option group.

Like placement's ``placement/conf``: each module of this package declares
the options of one group (with their help texts, which end up in the
sample configuration) and has ``register_opts(conf)`` and
``list_opts()``; library options (oslo.db, oslo.limit, keystoneauth) are
registered by the module of their group through the library's own
helper. There is one registration path::

    from vsm_authz import conf as vsm_conf

    vsm_conf.register_opts(conf)     # every group; safe to call again
    conf.pipeline.projects, conf.extend.timeout, conf.state_path, ...

    vsm_conf.parse_args(conf, argv, 'vsm-manage', cli_opts)  # console scripts

No constructor registers options: the console scripts (and tests) call
:func:`register_opts` once. :mod:`vsm_authz.conf.opts` finds the modules
of this package by itself for ``oslo-config-generator``.
"""

import importlib
import pkgutil

from oslo_log import log as logging

#: Modules of this package that declare no option group.
_NOT_GROUPS = frozenset({'opts'})


def group_modules():
    """The modules of this package, one per option group, by name."""
    names = sorted(info.name for info in pkgutil.iter_modules(__path__)
                   if info.name not in _NOT_GROUPS)
    return [importlib.import_module('%s.%s' % (__name__, name))
            for name in names]


def register_opts(conf) -> None:
    """Register every option of the control plane on ``conf``."""
    for module in group_modules():
        module.register_opts(conf)


def parse_args(conf, argv, prog: str, cli_opts=(),
               product: str = 'vsm') -> None:
    """What a console script does first: register every option, oslo.log's
    (``--debug``, ``--log-file``, ``use_journal``...) and ``cli_opts``,
    parse ``argv`` and the configuration files, and set up logging."""
    register_opts(conf)
    logging.register_options(conf)
    conf.register_cli_opts(cli_opts)
    conf(argv, project='vsm', prog=prog)
    logging.setup(conf, product)
