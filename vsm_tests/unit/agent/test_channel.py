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

"""The Nova channel: backoff, metadata service reads, API writes."""

import http.server
import threading

import testtools

from vsm_agent import channel
from vsm_tests import httpjson
from vsm_tests.unit.agent import fakes

VOL = '6f1c2a4e-0b8d-4c1e-9a57-3d2f00c1ab42'


class TestBackoff(testtools.TestCase):

    def test_grows_and_caps_and_resets(self):
        b = channel.Backoff(initial=2, maximum=30)
        delays = [b.failed(0) for _ in range(8)]
        self.assertTrue(1 <= delays[0] <= 2)
        self.assertTrue(all(d <= 30 for d in delays))
        self.assertGreaterEqual(delays[-1], 15)
        self.assertFalse(b.ready(0))
        b.succeeded()
        self.assertTrue(b.ready(0))


class TestRetryingChannel(testtools.TestCase):

    def test_backs_off_and_reports_health(self):
        nova = fakes.FakeChannel()
        link = channel.RetryingChannel(nova, clock=lambda: 100.0)
        nova.fail_reads = nova.fail_writes = 'timed out'
        self.assertIsNone(link.read_metadata(100.0))
        self.assertIn('failing: timed out', link.health['read'])
        e = self.assertRaises(channel.ChannelError, link.write, 'k', 'v')
        self.assertGreater(e.retry_in, 0)
        self.assertFalse(link.write_backoff.ready(100.0))
        nova.fail_reads = nova.fail_writes = None
        self.assertIsNone(link.read_metadata(100.0))  # still backing off
        self.assertEqual({}, link.read_metadata(1000.0))
        link.write('k', 'v')
        self.assertEqual(('ok (metadata)', 'ok'),
                         (link.health['read'], link.health['write']))

    def test_volume_ids_of_serials(self):
        nova = fakes.FakeChannel()
        nova.devices.add(VOL)
        link = channel.RetryingChannel(nova)
        self.assertEqual({VOL[:20]: VOL},
                         link.volume_ids_of({VOL[:20], 'unknown-serial'}))


class _StandIn(httpjson.JsonHandler):
    document = {}

    def do_GET(self):
        self.send_json(200, self.document)


class TestChannelReads(testtools.TestCase):

    def setUp(self):
        super().setUp()
        _StandIn.document = {'uuid': 'srv-1', 'meta': {'a': 'b'},
                             'devices': [{'type': 'disk', 'serial': VOL},
                                         {'type': 'nic', 'mac': 'x'}]}
        self.server = http.server.HTTPServer(('127.0.0.1', 0), _StandIn)
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)

    def test_metadata_service(self):
        chan = channel.NovaChannel('http://127.0.0.1:%d/meta_data.json'
                                   % self.server.server_port)
        self.assertEqual({'a': 'b'}, chan.read_metadata())
        self.assertEqual('srv-1', chan.server_id)
        self.assertEqual({VOL}, chan.device_volume_ids())
        self.assertFalse(chan.can_write)

    def test_unreachable_without_credentials_raises(self):
        chan = channel.NovaChannel('http://127.0.0.1:1/x',
                                   metadata_timeout_s=0.2)
        e = self.assertRaises(channel.ChannelError, chan.read_metadata)
        self.assertTrue(e.transient)
        e = self.assertRaises(channel.ChannelError, chan.write, 'k', 'v')


class TestChannelApi(testtools.TestCase):
    """Writes and API reads against the HTTP stand-in (a local server)."""

    def setUp(self):
        super().setUp()
        from vsm_tests.functional.agent import standin
        self.standin = standin.StandIn('srv-1', volumes=[VOL]).start()
        self.addCleanup(self.standin.stop)

    def channel(self, **kw):
        args = dict(metadata_url=self.standin.url
                    + '/openstack/latest/meta_data.json',
                    auth_url=self.standin.url + '/v3',
                    application_credential_id='cred-id',
                    application_credential_secret='cred-secret',
                    write_jitter_s=0.0)
        args.update(kw)
        return channel.NovaChannel(**args)

    def test_single_key_put_in_process_and_isolated(self):
        for isolate in (False, True):
            chan = self.channel(isolate_api_calls=isolate)
            chan.write('vsm:test', 'v%s' % isolate)
            self.assertEqual('v%s' % isolate,
                             self.standin.metadata['vsm:test'])
            self.assertEqual({VOL}, chan.attached_volume_ids())
        self.assertEqual([], self.standin.errors)

    def test_api_read_fallback(self):
        self.standin.metadata['k'] = 'v'
        chan = self.channel(metadata_url='http://127.0.0.1:1/x',
                            metadata_timeout_s=0.2, server_id='srv-1',
                            isolate_api_calls=False)
        self.assertEqual({'k': 'v'}, chan.read_metadata())
        self.assertEqual('api', chan.last_read_source)

    def test_http_errors_classified(self):
        chan = self.channel(server_id='other', isolate_api_calls=False)
        e = self.assertRaises(channel.ChannelError, chan.write, 'k', 'v')
        self.assertEqual((404, False), (e.status, e.transient))
        chan = self.channel(application_credential_secret='wrong',
                            server_id='srv-1', isolate_api_calls=False)
        e = self.assertRaises(channel.ChannelError, chan.write, 'k', 'v')
        self.assertTrue(e.transient)
