"""MetadataProxy and the Neutron-style signature, against a local upstream."""

import hashlib
import hmac
import http.server
import json
import threading
import urllib.error
import urllib.request

import testtools

from vsm_devenv.localcloud import metadata_proxy
from vsm_tests import httpjson


class _Upstream(http.server.ThreadingHTTPServer):
    """Records the headers it gets; answers like nova-metadata would."""

    def __init__(self):
        self.seen = []
        outer = self

        class Handler(httpjson.JsonHandler):
            def do_GET(self):
                outer.seen.append((self.path, self.headers))  # any case
                status = 404 if self.path.endswith('/missing') else 200
                self.send_json(status, {'meta': {'vsm:k': 'v'}})

        super().__init__(('127.0.0.1', 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


class MetadataProxyTestCase(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.upstream = _Upstream()
        self.addCleanup(self.upstream.server_close)
        self.addCleanup(self.upstream.shutdown)
        url = 'http://127.0.0.1:%d' % self.upstream.server_address[1]
        self.proxy = metadata_proxy.MetadataProxy('inst-1', 'proj-1', url,
                                                  'secret').start()
        self.addCleanup(self.proxy.stop)

    def test_signature_is_hmac_sha256_of_the_instance_id(self):
        expected = hmac.new(b'secret', b'inst-1', hashlib.sha256).hexdigest()
        self.assertEqual(
            expected, metadata_proxy.sign_instance_id('secret', 'inst-1'))

    def test_forwards_with_identity_headers(self):
        path = '/openstack/latest/meta_data.json'
        with urllib.request.urlopen(self.proxy.url + path) as resp:
            self.assertEqual({'vsm:k': 'v'}, json.load(resp)['meta'])
        seen_path, headers = self.upstream.seen[-1]
        self.assertEqual(path, seen_path)
        self.assertEqual('inst-1', headers['X-Instance-ID'])
        self.assertEqual('proj-1', headers['X-Tenant-ID'])
        self.assertEqual(metadata_proxy.sign_instance_id('secret', 'inst-1'),
                         headers['X-Instance-ID-Signature'])
        self.assertIn('X-Forwarded-For', headers)

    def test_upstream_errors_pass_through(self):
        err = self.assertRaises(urllib.error.HTTPError, urllib.request.urlopen,
                                self.proxy.url + '/missing')
        self.assertEqual(404, err.code)
