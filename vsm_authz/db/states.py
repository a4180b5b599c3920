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

"""The states of an expansion request and the only moves between them.

::

    received ─┬─► pending ──┬─► granted ─┬─► extending ──► extended ──► grown
              │             ├─► denied   ├─► extended        └──► failed
              ├─► granted   └─► failed   └─► failed
              ├─► denied                  (extending ──► failed)
              └─► failed

:func:`vsm_authz.db.expansions.transition` enforces :data:`TRANSITIONS`;
the pipeline, the reconciliation and the answers compare a record's
``state`` with :class:`RecordState` members (which compare and hash like
the strings the database stores)::

    from vsm_authz.db import states

    if record.state in states.IN_FLIGHT_STATES: ...
    states.RecordState('granted') is states.RecordState.GRANTED
"""

import enum


class RecordState(str, enum.Enum):
    """The state of an expansion record. Members are the strings the
    database stores, and compare and hash like them."""

    RECEIVED = 'received'
    PENDING = 'pending'
    GRANTED = 'granted'
    EXTENDING = 'extending'
    EXTENDED = 'extended'
    GROWN = 'grown'
    DENIED = 'denied'
    FAILED = 'failed'

    __str__ = str.__str__
    __format__ = str.__format__
    __hash__ = str.__hash__


_S = RecordState
#: new states each state may move to.
TRANSITIONS = {
    _S.RECEIVED: frozenset({_S.PENDING, _S.GRANTED, _S.DENIED, _S.FAILED}),
    _S.PENDING: frozenset({_S.GRANTED, _S.DENIED, _S.FAILED}),
    _S.GRANTED: frozenset({_S.EXTENDING, _S.EXTENDED, _S.FAILED}),
    _S.EXTENDING: frozenset({_S.EXTENDED, _S.FAILED}),
    _S.EXTENDED: frozenset({_S.GROWN, _S.FAILED}),
    _S.GROWN: frozenset(),
    _S.DENIED: frozenset(),
    _S.FAILED: frozenset(),
}
STATES = frozenset(TRANSITIONS)
#: States nothing moves out of.
FINAL_STATES = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
#: A Cinder extend may have been started: crash recovery looks at these.
IN_FLIGHT_STATES = (RecordState.GRANTED, RecordState.EXTENDING)


def predecessors(new_state) -> tuple:
    """The states allowed to move to ``new_state``, sorted."""
    return tuple(sorted(s for s, nxt in TRANSITIONS.items()
                        if new_state in nxt))
