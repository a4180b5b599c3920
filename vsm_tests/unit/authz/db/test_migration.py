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

"""Tests of vsm_authz.db.migration: the schema at head matches the
models, upgrades are idempotent (SQLite)."""

from alembic import autogenerate
from alembic import migration as alembic_migration
import fixtures
from oslo_config import cfg

from vsm_authz import conf as vsm_conf
from vsm_authz.db import api as db_api
from vsm_authz.db import fixture as db_fixture
from vsm_authz.db import migration
from vsm_authz.db import models
from vsm_tests.unit.authz.db import base


class TestMigrations(base.DBTestCase):
    def test_at_head(self):
        self.assertEqual('0001_initial', migration.version())
        self.assertEqual(migration.head(), migration.version())

    def test_upgrade_is_idempotent(self):
        migration.upgrade('head')
        self.assertEqual(migration.head(), migration.version())

    def test_models_match_migrations(self):
        # A model change without a revision (or vice versa) fails here.
        with db_api.get_engine().connect() as conn:
            context = alembic_migration.MigrationContext.configure(conn)
            diff = autogenerate.compare_metadata(context,
                                                 models.Base.metadata)
        self.assertEqual([], diff)

    def test_fresh_database_has_no_version(self):
        db_api.configure_reset()
        self.useFixture(_Unmigrated())
        self.assertIsNone(migration.version())
        migration.upgrade('head')
        self.assertEqual('0001_initial', migration.version())


class _Unmigrated(db_fixture.Database):
    def _setUp(self):
        # Like Database but without the upgrade.
        self.conf = cfg.ConfigOpts()
        vsm_conf.register_opts(self.conf)
        self.conf([], project='vsm')
        tmp = self.useFixture(fixtures.TempDir()).path
        self.conf.set_override('connection', 'sqlite:///%s/x.sqlite' % tmp,
                               group='database')
        db_api.configure(self.conf)
        self.addCleanup(db_api.configure_reset)
