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

"""The vsm:resp: answers, written once per pass and re-asserted."""

import testtools

from vsm_agent import protocol
from vsm_authz import answers
from vsm_tests.unit.authz import fakes

R = protocol.ResponseState


class TestResponseFor(testtools.TestCase):

    def test_same_answer_ignores_timestamp(self):
        a = protocol.ExpansionResponse(
            volume_id=fakes.new_uuid(), request_id='d' * 32, seq=1,
            state=R.GRANTED, size_gb=2, timestamp=1, reason='ok')
        self.assertTrue(answers.same_answer(a, a.replace(timestamp=9)))
        self.assertFalse(answers.same_answer(a, a.replace(size_gb=3)))
        self.assertFalse(answers.same_answer(a, None))

    def test_invalid_answer_keeps_readable_id_and_seq(self):
        volume = fakes.new_uuid()
        answer = answers.invalid_answer(volume, 'v=1;id=%s;seq=7;want=x'
                                        % ('e' * 32), 10, 5)
        self.assertEqual(('e' * 32, 7, R.DENIED, 'invalid', 10),
                         (answer.request_id, answer.seq, answer.state,
                          answer.reason, answer.size_gb))
        answer = answers.invalid_answer(volume, None, 0, 5)
        self.assertEqual(('0' * 32, 1), (answer.request_id, answer.seq))


class TestAnswers(testtools.TestCase):

    def test_write_remembers_and_survives_a_busy_server(self):
        nova = fakes.FakeNova()
        server = nova.add_server()
        out = answers.Answers(nova)
        answer = answers.invalid_answer(fakes.new_uuid(), None, 1, 5)
        out.write(server, answer)
        self.assertEqual({(server, answer.volume_id): answer}, out.written)
        nova.conflicts = 1
        other = answer.replace(seq=2)
        out.write(server, other)   # logged, left to the reconciliation
        self.assertEqual(answer, out.written[(server, answer.volume_id)])
