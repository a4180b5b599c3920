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

"""The Nova/Cinder adapters: requests sent and errors translated."""

import json

from keystoneauth1 import exceptions as ksa_exc
import testtools

from vsm_authz import clients


class FakeResponse:
    def __init__(self, status, body=None):
        self.status_code = status
        self.content = b'' if body is None else json.dumps(body).encode()

    def json(self):
        return json.loads(self.content)


class FakeAdapter:
    """Records requests; answers from a queue of responses/exceptions."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests = []

    def request(self, url, method, **kwargs):
        self.requests.append((method, url, kwargs))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class TestErrors(testtools.TestCase):

    def test_translation(self):
        for exc, expected in (
                (ksa_exc.ConnectFailure('down'), clients.CloudUnavailable),
                (ksa_exc.http.ServiceUnavailable(), clients.CloudUnavailable),
                (ksa_exc.http.InternalServerError(),
                 clients.CloudUnavailable),
                (ksa_exc.http.Unauthorized(), clients.CloudUnavailable),
                (ksa_exc.http.NotFound(), clients.NotFound),
                (ksa_exc.http.Conflict(), clients.Conflict),
                (ksa_exc.http.RequestEntityTooLarge(), clients.OverQuota),
                (ksa_exc.http.BadRequest(), clients.BadRequest),
                (ksa_exc.http.Forbidden(), clients.CloudError)):
            cinder = clients.CinderClient(FakeAdapter(exc))
            error = self.assertRaises(clients.CloudError, cinder.pools)
            self.assertIs(expected, type(error), exc)
        self.assertTrue(clients.CloudUnavailable('x').transient)
        self.assertFalse(clients.NotFound('x').transient)


class TestNova(testtools.TestCase):

    def test_metadata_write_is_single_key_put(self):
        adapter = FakeAdapter(FakeResponse(200, {'meta': {}}))
        clients.NovaClient(adapter).put_metadata_item('s1', 'vsm:resp:v',
                                                      'x')
        method, url, kwargs = adapter.requests[0]
        self.assertEqual(('PUT', '/servers/s1/metadata/vsm:resp:v'),
                         (method, url))
        self.assertEqual({'meta': {'vsm:resp:v': 'x'}}, kwargs['json'])

    def test_metadata_write_retries_conflicts(self):
        adapter = FakeAdapter(ksa_exc.http.Conflict(),
                              ksa_exc.http.Conflict(),
                              FakeResponse(200, {}))
        clients.NovaClient(adapter).put_metadata_item('s1', 'k', 'v')
        self.assertEqual(3, len(adapter.requests))

    def test_metadata_write_gives_up(self):
        adapter = FakeAdapter(*[ksa_exc.http.Conflict()] * 50)
        nova = clients.NovaClient(adapter, metadata_write_timeout=0.3)
        self.assertRaises(clients.Conflict, nova.put_metadata_item, 's', 'k',
                          'v')

    def test_missing_server_is_none(self):
        nova = clients.NovaClient(FakeAdapter(ksa_exc.http.NotFound()))
        self.assertIsNone(nova.get_server('s1'))

    def test_listing_pages_and_filters(self):
        page1 = {'servers': [{'id': 'a', 'metadata': {'vsm:req:x': '1'}},
                             {'id': 'b', 'metadata': {}}]}
        page2 = {'servers': [{'id': 'c', 'metadata': {'vsm:req:y': '1'}}]}
        adapter = FakeAdapter(FakeResponse(200, page1),
                              FakeResponse(200, page2))
        nova = clients.NovaClient(adapter, list_page_size=2)
        found = [s['id'] for s in nova.servers_with_vsm_keys('vsm:req:')]
        self.assertEqual(['a', 'c'], found)
        self.assertEqual('b', adapter.requests[1][2]['params']['marker'])
        self.assertEqual(1, adapter.requests[0][2]['params']['all_tenants'])


class TestCinder(testtools.TestCase):

    def test_extend_uses_microversion_342(self):
        adapter = FakeAdapter(FakeResponse(202))
        clients.CinderClient(adapter).extend_volume('v1', 12)
        method, url, kwargs = adapter.requests[0]
        self.assertEqual(('POST', '/volumes/v1/action'), (method, url))
        self.assertEqual({'os-extend': {'new_size': 12}}, kwargs['json'])
        self.assertEqual('volume 3.42',
                         kwargs['headers']['OpenStack-API-Version'])

    def test_user_messages_best_effort(self):
        adapter = FakeAdapter(ksa_exc.http.Forbidden())
        self.assertEqual([], clients.CinderClient(adapter).user_messages('v'))
