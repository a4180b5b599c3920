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

"""Schema migrations: ``alembic upgrade`` on the engine of :mod:`db.api`.

Used by ``vsm-manage db sync`` / ``db version`` and by the tests::

    from vsm_authz.db import api as db_api, migration
    db_api.configure(conf)
    migration.upgrade('head')
    migration.version()        # e.g. '0001_initial'; None before any sync

New revisions go to ``vsm_authz/db/migrations/versions`` (``alembic
revision`` with ``script_location = vsm_authz.db:migrations``); they are
append-only: never edit a released revision.
"""

from alembic import command
from alembic import config as alembic_config
from alembic import migration as alembic_migration
from alembic import script as alembic_script

from vsm_authz.db import api as db_api

SCRIPT_LOCATION = 'vsm_authz.db:migrations'


def _config(connection=None):
    config = alembic_config.Config()
    config.set_main_option('script_location', SCRIPT_LOCATION)
    config.attributes['connection'] = connection
    return config


def upgrade(revision='head'):
    """Upgrade the configured database to ``revision``."""
    with db_api.get_engine().begin() as connection:
        command.upgrade(_config(connection), revision)


def version():
    """The revision the database is at, or None if never synced."""
    with db_api.get_engine().connect() as connection:
        return alembic_migration.MigrationContext.configure(
            connection).get_current_revision()


def head():
    """The newest revision this code knows."""
    return alembic_script.ScriptDirectory.from_config(
        _config()).get_current_head()
