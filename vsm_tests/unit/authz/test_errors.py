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

"""Transient errors are recognised by their class, not their name."""

from keystoneauth1 import exceptions as ksa_exc
from oslo_db import exception as db_exc
import testtools
from tooz import coordination

from vsm_authz import clients
from vsm_authz import errors
from vsm_authz import extend
from vsm_authz import keystone_limits
from vsm_authz import locks


class TestIsTransient(testtools.TestCase):

    def test_transient(self):
        for exc in (clients.CloudUnavailable('nova down', 503),
                    extend.ExtendBusy('already extending'),
                    keystone_limits.LimitServiceUnavailable('keystone down'),
                    ksa_exc.ConnectFailure('refused'),
                    ksa_exc.ConnectTimeout('slow'),
                    ksa_exc.ServiceUnavailable(),
                    locks.LockTimeout('volume-x', 1.0),
                    coordination.LockAcquireFailed('backend'),
                    coordination.ToozConnectionError('redis down'),
                    db_exc.DBConnectionError(),
                    db_exc.DBDeadlock()):
            self.assertTrue(errors.is_transient(exc), repr(exc))

    def test_answers_and_bugs_are_not(self):
        for exc in (clients.NotFound('gone', 404),
                    clients.OverQuota('quota', 413),
                    clients.CloudError('forbidden', 403),
                    keystone_limits.OverLimit('p', 'r', 10, 9, 2),
                    ksa_exc.Unauthorized(),
                    db_exc.DBDuplicateEntry(),
                    KeyError('bug'), ValueError('bad')):
            self.assertFalse(errors.is_transient(exc), repr(exc))

    def test_names_alone_do_not_count(self):
        for name in ('LockTimeout', 'LockNotAcquired',
                     'LimitServiceUnavailable'):
            impostor = type(name, (Exception,), {})()
            self.assertFalse(errors.is_transient(impostor), name)
