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

"""A test fixture: a fresh, migrated VSM database for each test.

For VSM's own tests and anyone testing code on top of
:mod:`vsm_authz.db.api`::

    from vsm_authz.db import fixture as db_fixture

    class TestX(testtools.TestCase):
        def setUp(self):
            super().setUp()
            self.db = self.useFixture(db_fixture.Database())
            # db_api functions now use it; self.db.conf is its ConfigOpts

``Database(connection=None)`` uses a SQLite file in a temporary directory
(several threads see the same data, unlike ``sqlite://``); pass a URL to
test on MySQL/MariaDB (the schema is created there with alembic and the
tables are dropped afterwards).
"""

import fixtures
from oslo_config import cfg

from vsm_authz import conf as vsm_conf
from vsm_authz.db import api as db_api
from vsm_authz.db import migration
from vsm_authz.db import models


class Database(fixtures.Fixture):
    """Configure :mod:`db.api` on a fresh database migrated to head."""

    def __init__(self, connection=None):
        super().__init__()
        self.connection = connection

    def _setUp(self):
        self.conf = cfg.ConfigOpts()
        vsm_conf.register_opts(self.conf)
        self.conf([], project='vsm')
        url = self.connection
        if url is None:
            tmp = self.useFixture(fixtures.TempDir()).path
            url = 'sqlite:///%s/vsm.sqlite' % tmp
        self.conf.set_override('connection', url, group='database')
        db_api.configure(self.conf)
        migration.upgrade('head')
        if self.connection is not None:
            self.addCleanup(self._drop)
        self.addCleanup(db_api.configure_reset)

    def _drop(self):
        with db_api.get_engine().begin() as conn:
            models.Base.metadata.drop_all(conn)
            conn.exec_driver_sql('DROP TABLE IF EXISTS alembic_version')
