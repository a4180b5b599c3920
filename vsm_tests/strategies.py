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

"""Hypothesis strategies for the ``vsm:`` protocol.

Shared by the protocol's own property tests and by the agent's and the
service's tests that need valid or hostile metadata::

    from vsm_tests import strategies as st_vsm

    @hypothesis.given(st_vsm.requests())
    def test_x(self, request): ...

    @hypothesis.given(st_vsm.hostile_values())
    def test_parser_survives(self, value): ...
"""

from hypothesis import strategies as st

from vsm_agent import protocol

volume_ids = st.uuids().map(str)
request_ids = st.binary(min_size=16, max_size=16).map(bytes.hex)
seqs = st.integers(1, protocol.MAX_SEQ)
sizes = st.integers(0, protocol.MAX_SIZE_GB)
timestamps = st.integers(0, protocol.MAX_TIMESTAMP)
reasons = st.from_regex(r'\A[a-z][a-z0-9_]{0,23}\Z')


@st.composite
def requests(draw):
    """Any valid :class:`protocol.ExpansionRequest`."""
    state = draw(st.sampled_from(list(protocol.RequestState)))
    current = draw(st.integers(0, protocol.MAX_SIZE_GB - 1))
    if state is protocol.RequestState.REQUESTED:
        wanted = draw(st.integers(current + 1, protocol.MAX_SIZE_GB))
    else:
        wanted = draw(st.integers(1, protocol.MAX_SIZE_GB))
    return protocol.ExpansionRequest(
        volume_id=draw(volume_ids), request_id=draw(request_ids),
        seq=draw(seqs), state=state, current_gb=current,
        requested_gb=wanted, timestamp=draw(timestamps),
        reason=draw(reasons))


@st.composite
def responses(draw):
    """Any valid :class:`protocol.ExpansionResponse`."""
    return protocol.ExpansionResponse(
        volume_id=draw(volume_ids), request_id=draw(request_ids),
        seq=draw(seqs),
        state=draw(st.sampled_from(list(protocol.ResponseState))),
        size_gb=draw(sizes), timestamp=draw(timestamps),
        reason=draw(reasons),
        retry_after=draw(st.none() | timestamps))


def _mutate(value, draw):
    """Apply one random edit to a valid encoded value."""
    ops = draw(st.sampled_from(
        ['insert', 'delete', 'replace', 'swap', 'dup', 'truncate',
         'pad']))
    if ops == 'truncate':
        return value[:draw(st.integers(0, len(value)))]
    if ops == 'pad':
        return value + draw(st.text(min_size=1, max_size=300))
    if ops == 'dup':
        fields = value.split(';')
        extra = draw(st.sampled_from(fields))
        return value + ';' + extra
    if ops == 'swap':
        fields = value.split(';')
        perm = draw(st.permutations(fields))
        return ';'.join(perm)
    pos = draw(st.integers(0, max(len(value) - 1, 0)))
    char = draw(st.sampled_from(list('0123456789abcdef;=-_ vX\x00\u00e9'))
                | st.characters())
    if ops == 'insert':
        return value[:pos] + char + value[pos:]
    if ops == 'delete':
        return value[:pos] + value[pos + 1:]
    return value[:pos] + char + value[pos + 1:]


@st.composite
def mutated_entries(draw):
    """``(key, value)`` pairs: valid entries with random edits.

    One to three edits of a valid value, and sometimes of its key.
    """
    message = draw(requests() | responses())
    key, value = message.key, message.encode()
    for _ in range(draw(st.integers(1, 3))):
        value = _mutate(value, draw)
    if draw(st.booleans()):
        key = draw(st.sampled_from([key, key.upper(), key + ' ',
                                    key.replace('req', 'resp'),
                                    key.replace('resp', 'req'),
                                    key[:-1], 'vsm:req:', 'vsm:x:' + key]))
    return key, value


hostile_values = (st.text(max_size=400)
                  | st.binary(max_size=64)
                  | st.integers() | st.none() | st.floats()
                  | st.lists(st.text(max_size=5), max_size=3)
                  | st.dictionaries(st.text(max_size=5), st.text(max_size=5),
                                    max_size=3))
