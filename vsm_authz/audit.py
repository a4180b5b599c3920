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

"""The pipeline's audit trail: one database row per event::

    from vsm_authz import audit

    trail = audit.Trail()
    trail.add('request.granted', audit.ids(record), reason='ok')
    trail.add('request.rejected', audit.ids(server, request),
              once=(server_id, request_id, reason))

``ids()`` takes the request, volume, server and project ids from a record,
or from a :class:`vsm_authz.validation.ServerFacts` and a request. With
``once``, an event is added once per worker process for that key (a
bounded memory): an invalid value sitting in a server's metadata is
audited once, not once per notification.
"""

import collections
import threading

from vsm_authz.db import audit_log


def ids(subject, about=None) -> dict:
    """The ids an audit row carries: from a record, or from a server and
    the request (or answer) ``about`` one of its volumes."""
    source = subject if about is None else about
    return {'request_id': getattr(source, 'request_id', None),
            'volume_id': getattr(source, 'volume_id', None),
            'server_id': subject.server_id,
            'project_id': subject.project_id}


class Trail:
    """Adds audit rows; thread safe."""

    def __init__(self, memory=4096):
        self._seen = collections.OrderedDict()
        self._size = memory
        self._lock = threading.Lock()

    def first(self, key) -> bool:
        """True the first time this worker sees ``key`` (lately)."""
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return False
            self._seen[key] = True
            if len(self._seen) > self._size:
                self._seen.popitem(last=False)
            return True

    def add(self, event: str, ids: dict, once=None, **fields) -> None:
        """One row (``fields``: ``reason``, ``detail``); with ``once``, only
        the first time for that key."""
        if once is None or self.first(once):
            audit_log.audit(event, **ids, **fields)
