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

"""Tests of the ``vsm:`` metadata protocol, the agent/service contract."""

import os
import re

import hypothesis
from hypothesis import strategies as st
import testtools

from vsm_agent import protocol
from vsm_tests import strategies as st_vsm

VOL = '6f1c2a4e-0b8d-4c1e-9a57-3d2f00c1ab42'
RID = '9b2e7c41d0a94f3e8c5b1a2d3e4f5a6b'
DOC = os.path.join(os.path.dirname(__file__), '..', '..', 'doc', 'source',
                   'protocol.rst')


def _request_value(**override):
    fields = {'v': '1', 'id': RID, 'seq': '3', 'st': 'requested',
              'cur': '10', 'want': '12', 'ts': '1764097200',
              'why': 'used_pct'}
    fields.update(override)
    return ';'.join('%s=%s' % kv for kv in fields.items() if kv[1] is not None)


class TestKeys(testtools.TestCase):

    def test_keys_are_legal_for_nova(self):
        for key in (protocol.request_key(VOL), protocol.response_key(VOL)):
            self.assertTrue(protocol.NOVA_KEY_PATTERN.match(key), key)
        self.assertEqual(('req', VOL),
                         protocol.parse_key('vsm:req:' + VOL))
        self.assertEqual(('resp', VOL),
                         protocol.parse_key('vsm:resp:' + VOL))

    def test_bad_keys(self):
        for key in ('vsm:req:' + VOL.upper(), 'vsm:req:', 'vsm:ack:' + VOL,
                    'req:' + VOL, 'vsm:req:' + VOL + 'x', 42, None,
                    'vsm:req:' + 'a' * 300):
            exc = self.assertRaises(protocol.InvalidKey,
                                    protocol.parse_key, key)
            self.assertEqual('key', exc.field)
            self.assertEqual('bad_key', exc.code)

    def test_request_key_rejects_bad_volume_id(self):
        self.assertRaises(protocol.InvalidField, protocol.request_key,
                          'vdb')


class TestStrictParser(testtools.TestCase):
    """Each malformed input raises a typed error naming the field."""

    def test_valid(self):
        req = protocol.parse_request('vsm:req:' + VOL, _request_value())
        self.assertEqual(12, req.requested_gb)
        self.assertIs(protocol.RequestState.REQUESTED, req.state)

    def _check(self, exc_type, field, value, key='vsm:req:' + VOL):
        exc = self.assertRaises(exc_type, protocol.parse_request, key,
                                value)
        self.assertEqual(field, exc.field)
        self.assertIn(field, str(exc))
        return exc

    def test_table(self):
        cases = [
            (protocol.MalformedValue, 'value', ''),
            (protocol.MalformedValue, 'value', 'garbage'),
            (protocol.MalformedValue, 'value', 42),
            (protocol.ValueTooLong, 'value', _request_value() + 'x' * 255),
            (protocol.MissingField, 'v', 'id=' + RID),
            (protocol.MalformedValue, 'v',
             'id=%s;v=1;seq=1;st=requested;cur=1;want=2;ts=1;why=x' % RID),
            (protocol.UnsupportedVersion, 'v', _request_value(v='2')),
            (protocol.UnsupportedVersion, 'v', _request_value(v='01')),
            (protocol.MissingField, 'id', _request_value(id=None)),
            (protocol.InvalidField, 'id', _request_value(id='X' * 32)),
            (protocol.InvalidField, 'id', _request_value(id='a' * 31)),
            (protocol.InvalidField, 'seq', _request_value(seq='0')),
            (protocol.InvalidField, 'seq', _request_value(seq='-1')),
            (protocol.InvalidField, 'seq', _request_value(seq='007')),
            (protocol.InvalidField, 'seq', _request_value(seq='1.5')),
            (protocol.InvalidField, 'seq', _request_value(seq='2147483648')),
            (protocol.InvalidField, 'st', _request_value(st='granted')),
            (protocol.InvalidField, 'cur', _request_value(cur='x')),
            (protocol.InvalidField, 'want', _request_value(want='1048577')),
            (protocol.InvalidField, 'want', _request_value(want='10')),
            (protocol.InvalidField, 'ts', _request_value(ts='4102444801')),
            (protocol.InvalidField, 'why', _request_value(why='Used')),
            (protocol.InvalidField, 'why', _request_value(why='')),
            (protocol.UnknownField, 'mac', _request_value(mac='00')),
            (protocol.UnknownField, 'seq', _request_value() + ';seq=4'),
            (protocol.MalformedValue, 'value', _request_value() + ';'),
        ]
        for exc_type, field, value in cases:
            self._check(exc_type, field, value)

    def test_response_key_for_request_rejected(self):
        self._check(protocol.InvalidKey, 'key', _request_value(),
                    key='vsm:resp:' + VOL)

    def test_response_optional_after(self):
        value = ('v=1;id=%s;seq=3;st=denied;size=10;ts=5;why=cooldown;'
                 'after=99' % RID)
        resp = protocol.parse_response('vsm:resp:' + VOL, value)
        self.assertEqual(99, resp.retry_after)
        self.assertTrue(resp.final)
        self.assertEqual(value, resp.encode())
        exc = self.assertRaises(
            protocol.InvalidField, protocol.parse_response,
            'vsm:resp:' + VOL, value.replace('after=99', 'after=soon'))
        self.assertEqual('after', exc.field)

    def test_constructor_validates(self):
        self.assertRaises(protocol.InvalidField, protocol.ExpansionRequest,
                          VOL, RID, 1, 'requested', True, 2, 0, 'x')
        self.assertRaises(protocol.InvalidField, protocol.ExpansionRequest,
                          VOL, RID, 1, 'bogus', 1, 2, 0, 'x')


class TestReadMetadata(testtools.TestCase):

    def test_groups_by_volume_and_reports_errors(self):
        other = 'aaaaaaaa-0000-4000-8000-000000000000'
        meta = {'vsm:req:' + VOL: _request_value(),
                'vsm:resp:' + VOL: ('v=1;id=%s;seq=3;st=granted;size=12;'
                                    'ts=6;why=ok' % RID),
                'vsm:req:' + other: 'v=9',
                'vsm:junk': 'x',
                'owner': 'alice'}
        view = protocol.read_metadata(meta)
        self.assertEqual({VOL, other, ''}, set(view))
        entry = view[VOL]
        self.assertTrue(entry.response.answers(entry.request))
        self.assertEqual({}, entry.errors)
        self.assertIsInstance(view[other].errors['vsm:req:' + other],
                              protocol.UnsupportedVersion)
        self.assertIn('vsm:junk', view[''].errors)

    def test_not_a_mapping(self):
        view = protocol.read_metadata(['vsm:req:x'])
        self.assertIn('metadata', view[''].errors)


class TestProperties(testtools.TestCase):
    """Round trip for every valid value; hostile input never crashes."""

    @hypothesis.settings(max_examples=1000, deadline=None)
    @hypothesis.given(st_vsm.requests())
    def test_request_round_trip(self, request):
        value = request.encode()
        self.assertTrue(protocol.is_legal_for_nova(request.key, value))
        self.assertEqual(request, protocol.parse_request(request.key, value))

    @hypothesis.settings(max_examples=1000, deadline=None)
    @hypothesis.given(st_vsm.responses())
    def test_response_round_trip(self, response):
        value = response.encode()
        self.assertTrue(protocol.is_legal_for_nova(response.key, value))
        self.assertEqual(response,
                         protocol.parse_response(response.key, value))

    def _survives(self, key, value):
        for parse in (protocol.parse_request, protocol.parse_response):
            try:
                message = parse(key, value)
            except protocol.ProtocolError as exc:
                self.assertTrue(exc.field)
                self.assertTrue(exc.code)
            else:
                # Whatever parses re-encodes to a legal, identical value.
                self.assertTrue(protocol.is_legal_for_nova(
                    message.key, message.encode()))
                self.assertEqual(message, parse(message.key,
                                                message.encode()))
        protocol.read_metadata({key: value} if isinstance(key, str)
                               else {'vsm:x': value})

    @hypothesis.settings(max_examples=6000, deadline=None)
    @hypothesis.given(st_vsm.mutated_entries())
    def test_mutated_values_never_crash(self, entry):
        self._survives(*entry)

    @hypothesis.settings(max_examples=4000, deadline=None)
    @hypothesis.given(st.sampled_from(['vsm:req:' + VOL, 'vsm:resp:' + VOL]),
                      st_vsm.hostile_values)
    def test_random_values_never_crash(self, key, value):
        self._survives(key, value)


class TestDocumentation(testtools.TestCase):
    """The examples in doc/source/protocol.rst parse and round-trip."""

    EXAMPLE = re.compile(r'^\s+(vsm:(?:req|resp):\S+)\s+=\s+(\S+)\s*$',
                         re.M)

    def test_doc_examples(self):
        with open(DOC) as f:
            examples = self.EXAMPLE.findall(f.read())
        self.assertGreaterEqual(len(examples), 6)
        for key, value in examples:
            kind, _ = protocol.parse_key(key)
            parse = (protocol.parse_request if kind == 'req'
                     else protocol.parse_response)
            message = parse(key, value)
            self.assertEqual(value, message.encode())
            self.assertTrue(protocol.is_legal_for_nova(key, value))
