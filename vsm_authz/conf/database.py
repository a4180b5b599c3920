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

"""``[database]``: oslo.db's options, with VSM's default connection
(listed by the ``oslo.db`` namespace of the sample configuration)."""

from oslo_db import options as db_options

#: SQLite under ``[DEFAULT] state_path`` unless configured otherwise.
DEFAULT_CONNECTION = 'sqlite:///$state_path/vsm.sqlite'


def register_opts(conf):
    db_options.set_defaults(conf, connection=DEFAULT_CONNECTION)


def list_opts():
    return []
