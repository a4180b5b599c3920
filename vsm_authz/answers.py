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

"""The ``vsm:resp:`` answers: what the database says they are, writing
them, and re-asserting them when Nova lost or someone changed them::

    from vsm_authz import answers

    expected = answers.response_for(record)     # None while undecided
    answers.same_answer(expected, current)      # equal but the timestamp

    out = answers.Answers(nova)                 # one per pass over a server
    out.write(server_id, expected)
    out.reassert(server_id, record, current)    # write only if it differs

An :class:`Answers` remembers what its pass wrote, so re-assertion
compares with that and not with the metadata read before the pass; a
write that fails (the server is busy for long, or gone) is logged and left
to the reconciliation: the record already holds the answer.
"""

import calendar
import re
import typing

from oslo_log import log as logging

from vsm_agent import protocol
from vsm_authz import clients
from vsm_authz.db import states

LOG = logging.getLogger(__name__)

State = states.RecordState

#: Fixed id/seq used to answer a request whose own id/seq are unreadable.
_UNKNOWN_ID = '0' * 32
_ID_FIELD = re.compile(r'(?:^|;)id=([0-9a-f]{32})(?:;|$)')
_SEQ_FIELD = re.compile(r'(?:^|;)seq=([1-9][0-9]{0,9})(?:;|$)')

_RESPONSE_STATE = {
    State.PENDING: protocol.ResponseState.PENDING,
    State.GRANTED: protocol.ResponseState.GRANTED,
    State.EXTENDING: protocol.ResponseState.GRANTED,
    State.EXTENDED: protocol.ResponseState.EXTENDED,
    State.GROWN: protocol.ResponseState.EXTENDED,
    State.DENIED: protocol.ResponseState.DENIED,
    State.FAILED: protocol.ResponseState.FAILED,
}


def _epoch(moment) -> int:
    return calendar.timegm(moment.utctimetuple()) if moment else 0


def response_for(record) -> typing.Optional[protocol.ExpansionResponse]:
    """The ``vsm:resp:`` value the database says a record should have."""
    state = _RESPONSE_STATE.get(record.state)
    if state is None:  # received: nothing decided yet
        return None
    reason = record.reason or protocol.Reason.OK
    if state is protocol.ResponseState.PENDING:
        size = record.requested_gb
    elif state is protocol.ResponseState.GRANTED:
        size = record.granted_gb or record.requested_gb
    elif state is protocol.ResponseState.EXTENDED:
        size = record.final_size_gb or record.granted_gb
        reason = protocol.Reason.OK
    elif (state is protocol.ResponseState.FAILED
          and record.reason == protocol.Reason.GROW_FAILED):
        # The guest failed to grow; the service's answer stays "extended".
        state, reason = protocol.ResponseState.EXTENDED, protocol.Reason.OK
        size = record.final_size_gb or record.granted_gb
    else:
        size = record.final_size_gb or record.size_gb_at_request
    return protocol.ExpansionResponse(
        volume_id=record.volume_id, request_id=record.request_id,
        seq=record.seq, state=state, size_gb=int(size or 0),
        timestamp=_epoch(record.updated_at), reason=reason,
        retry_after=record.retry_after if state is
        protocol.ResponseState.DENIED else None)


def same_answer(a: typing.Optional[protocol.ExpansionResponse],
                b: typing.Optional[protocol.ExpansionResponse]) -> bool:
    """Equal except for the timestamp."""
    if a is None or b is None:
        return a is b
    return a.replace(timestamp=0) == b.replace(timestamp=0)


def invalid_answer(volume_id: str, raw, size_gb: int,
                   now: int) -> protocol.ExpansionResponse:
    """``denied/invalid`` for an unreadable ``vsm:req:`` value ``raw``,
    under its own id and seq when those fields can be read."""
    raw_text = raw if isinstance(raw, str) else ''
    match_id = _ID_FIELD.search(raw_text)
    match_seq = _SEQ_FIELD.search(raw_text)
    seq = int(match_seq.group(1)) if match_seq else 1
    return protocol.ExpansionResponse(
        volume_id=volume_id,
        request_id=match_id.group(1) if match_id else _UNKNOWN_ID,
        seq=min(seq, protocol.MAX_SEQ), state=protocol.ResponseState.DENIED,
        size_gb=size_gb, timestamp=now, reason=protocol.Reason.INVALID)


class Answers:
    """The answers of one pass over a server (not shared by threads)."""

    def __init__(self, nova: clients.NovaClient):
        self.nova = nova
        #: (server id, volume id) -> the response this pass wrote.
        self.written: typing.Dict[typing.Tuple[str, str],
                                  protocol.ExpansionResponse] = {}

    def write(self, server_id: str,
              response: typing.Optional[protocol.ExpansionResponse]) -> None:
        if response is None:
            return
        try:
            self.nova.put_metadata_item(server_id, response.key,
                                        response.encode())
            self.written[(server_id, response.volume_id)] = response
        except (clients.Conflict, clients.NotFound) as exc:
            # The server is busy for long or gone: the reconciliation
            # re-asserts the answer later; the record already holds it.
            LOG.warning('Could not write %s on server %s (request %s): %s',
                        response.key, server_id, response.request_id, exc)

    def reassert(self, server_id: str, record, current) -> None:
        """Write the record's answer unless ``current`` (or what this pass
        wrote) already says it."""
        if record.server_id != server_id:
            return
        expected = response_for(record)
        written = self.written.get((server_id, record.volume_id))
        if written is not None:
            current = written
        if expected is None or same_answer(expected, current):
            return
        if written is None:
            # ``current`` was read before this pass, maybe before waiting
            # on the locks while another driver answered: look again
            # rather than write (each write makes Nova notify twice).
            fresh = self.nova.get_server(server_id)
            if fresh is None:
                return
            value = (fresh.get('metadata') or {}).get(expected.key)
            try:
                current = protocol.parse_response(expected.key, value)
            except protocol.ProtocolError:
                current = None
            if same_answer(expected, current):
                return
        LOG.info('Re-asserting %s on server %s for request %s (%s)',
                 expected.key, server_id, record.request_id,
                 expected.state.value)
        self.write(server_id, expected)
