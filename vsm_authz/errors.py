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

"""Which failures mean "try this notification again later".

The listener requeues a notification whose handling raised a transient
error, and the reconciliation logs one as a warning rather than an
error; anything else about a request is an answer, not an error::

    from vsm_authz import errors

    if errors.is_transient(exc):
        return messaging.NotificationResult.REQUEUE

Transient, by class (never by name):

- Nova or Cinder unreachable or answering 5xx
  (:class:`vsm_authz.clients.CloudUnavailable`), Cinder refusing an extend
  for now (:class:`vsm_authz.extend.ExtendBusy`);
- Keystone unreachable for the unified-limit check
  (:class:`vsm_authz.keystone_limits.LimitServiceUnavailable`) or for a token
  (keystoneauth's connection failures and 502/503/504 answers);
- a lock not acquired in time (:class:`vsm_authz.locks.LockTimeout`) or
  the lock backend failing (tooz's ``ToozError``);
- the database unreachable or deadlocked (oslo.db's
  ``DBConnectionError``, ``DBDeadlock``).
"""

from keystoneauth1 import exceptions as ksa_exc
from oslo_db import exception as db_exc
from tooz import coordination

from vsm_authz import clients
from vsm_authz import extend
from vsm_authz import keystone_limits
from vsm_authz import locks

#: The exception classes worth a retry of the whole notification.
TRANSIENT = (
    clients.CloudUnavailable,
    extend.ExtendBusy,
    keystone_limits.LimitServiceUnavailable,
    ksa_exc.ConnectionError,
    ksa_exc.BadGateway,
    ksa_exc.ServiceUnavailable,
    ksa_exc.GatewayTimeout,
    locks.LockTimeout,
    coordination.ToozError,
    db_exc.DBConnectionError,
    db_exc.DBDeadlock,
)


def is_transient(exc: BaseException) -> bool:
    """True for errors worth a retry of the whole notification."""
    return isinstance(exc, TRANSIENT)
