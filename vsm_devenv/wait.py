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

"""The one polling helper of the dev tooling and the test tiers.

::

    from vsm_devenv.wait import wait_for

    server = wait_for(lambda: find_active(server_id), 120, 'server ACTIVE')

``predicate`` is called every ``interval`` seconds until it returns a truthy
value, which ``wait_for`` returns. Exceptions of the types in ``ignore``
count as "not yet" (a busy shared cloud drops a connection now and then);
any other exception propagates at once. When ``timeout`` passes,
:class:`WaitTimeout` names ``what``: it is a ``TimeoutError`` for tooling
and an ``AssertionError``, so a test that waits in vain fails rather than
errors.
"""

import time


class WaitTimeout(AssertionError, TimeoutError):
    """``wait_for`` gave up; the message says what it waited for."""


def wait_for(predicate, timeout, what='condition', interval=0.25, ignore=()):
    """Poll ``predicate`` until it returns a truthy value; return that value.

    :param timeout: seconds before :class:`WaitTimeout`
    :param what: named in the timeout's message
    :param interval: seconds between polls
    :param ignore: exception types that count as a falsy answer
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except ignore:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise WaitTimeout(
                'timed out after %.0fs waiting for %s' % (timeout, what))
        time.sleep(interval)
