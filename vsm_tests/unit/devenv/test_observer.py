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

"""The demo's words for what the metadata shows (what the demo prints)."""

import types

import testtools

from vsm_agent import protocol
from vsm_devenv import closedloop
from vsm_devenv.demo import observer

VOL = '0b6a3e2c-5f61-4d2e-9a8b-0c1d2e3f4a5b'


def request(state, seq=1, rid='a' * 32, cur=1, want=2, reason='used_pct'):
    return protocol.ExpansionRequest(
        volume_id=VOL, request_id=rid, seq=seq, state=state, current_gb=cur,
        requested_gb=want, timestamp=1, reason=reason)


def response(state, size, rid='a' * 32, reason='ok'):
    return protocol.ExpansionResponse(
        volume_id=VOL, request_id=rid, seq=1, state=state, size_gb=size,
        timestamp=1, reason=reason)


class ObserverWordsTestCase(testtools.TestCase):
    def setUp(self):
        super().setUp()
        spec = closedloop.VolumeSpec('data', 1, volume_id=VOL)
        guest = types.SimpleNamespace(uevent_cursor=lambda: 0)
        loop = types.SimpleNamespace(volumes=[spec], guest=guest)
        self.spec = spec
        self.observer = observer.Observer(loop)

    def seen(self, req=None, resp=None):
        self.observer._diff(self.spec, protocol.VolumeEntry(VOL, req, resp))
        return [(e.kind, e.text) for e in self.observer.timeline.events]

    def test_a_grant_told_once_then_grown(self):
        RS, PS = protocol.RequestState, protocol.ResponseState
        self.seen(request(RS.REQUESTED))
        self.seen(request(RS.REQUESTED), response(PS.GRANTED, 2))
        self.seen(request(RS.REQUESTED), response(PS.GRANTED, 2))
        events = self.seen(request(RS.GROWN, seq=2, cur=2),
                           response(PS.EXTENDED, 2))
        self.assertEqual([
            ('request', 'from 1 to 2 GiB (disk nearly full)'),
            ('granted', 'the volume will grow to 2 GiB'),
            ('grown', 'partition and filesystem now fill 2 GiB'),
        ], events)

    def test_an_extend_seen_first_counts_as_the_grant(self):
        events = self.seen(resp=response(protocol.ResponseState.EXTENDED, 3))
        self.assertEqual([('granted', 'the volume will grow to 3 GiB')],
                         events)

    def test_a_denial_in_plain_words(self):
        denied = response(protocol.ResponseState.DENIED, 1,
                          reason='over_limit')
        events = self.seen(resp=denied)
        self.assertEqual(
            [('denied', "the project's storage limit is reached; the volume "
                        'stays at 1 GiB')], events)
