"""A host-side stand-in for Neutron's metadata proxy, for ONE instance.

In a real cloud a guest's ``GET http://169.254.169.254/...`` reaches Neutron's
metadata proxy, which adds the instance's identity and forwards to
nova-metadata-api. The local cloud has no Neutron agents, so this does the
proxy's job on a local port: every GET/HEAD it receives is forwarded to
nova-metadata with

- ``X-Instance-ID``: the instance (server) id,
- ``X-Tenant-ID``: its project id,
- ``X-Instance-ID-Signature``: HMAC-SHA256(shared secret, instance id), hex,
- ``X-Forwarded-For``: a fixed guest address,

exactly what Nova checks with ``[neutron] service_metadata_proxy = true``. A
QEMU guest reaches it through user-mode networking, e.g.
``guestfwd=tcp:169.254.169.254:80-cmd:socat STDIO TCP:127.0.0.1:<port>``.

Python::

    with MetadataProxy(server_id, project_id, cloud.info['metadata']['url'],
                       cloud.info['metadata']['shared_secret']) as proxy:
        urllib.request.urlopen(proxy.url + '/openstack/latest/meta_data.json')

Command line (secret and URL from the running local cloud's localcloud.json)::

    python -m vsm_devenv.localcloud.metadata_proxy \
        --instance-id ID --project-id ID --port 8779

Standard library only.
"""

import argparse
import hashlib
import hmac
import http.server
import threading
import urllib.error
import urllib.request

GUEST_ADDRESS = '10.0.0.2'
HOP_BY_HOP = {
    'connection',
    'keep-alive',
    'transfer-encoding',
    'te',
    'trailer',
    'upgrade',
    'proxy-authorization',
    'proxy-authenticate',
}


def sign_instance_id(shared_secret, instance_id):
    """``X-Instance-ID-Signature`` as Neutron makes it: hex HMAC-SHA256."""
    return hmac.new(
        shared_secret.encode(), instance_id.encode(), hashlib.sha256
    ).hexdigest()


def metadata_headers(
    instance_id, project_id, shared_secret, forwarded_for=GUEST_ADDRESS
):
    """Headers that make nova-metadata answer for ``instance_id``."""
    return {
        'X-Instance-ID': instance_id,
        'X-Tenant-ID': project_id,
        'X-Instance-ID-Signature': sign_instance_id(
            shared_secret, instance_id
        ),
        'X-Forwarded-For': forwarded_for,
    }


class MetadataProxy:
    """Serve one instance's metadata on ``host:port`` (0: a free port).

    ``start()``/``stop()`` or use as a context manager; ``url`` is the base URL
    to query.
    """

    def __init__(
        self,
        instance_id,
        project_id,
        upstream_url,
        shared_secret,
        host='127.0.0.1',
        port=0,
        forwarded_for=GUEST_ADDRESS,
        timeout=30,
    ):
        self.upstream_url = upstream_url.rstrip('/')
        self.headers = metadata_headers(
            instance_id, project_id, shared_secret, forwarded_for
        )
        self.timeout = timeout
        self._server = http.server.ThreadingHTTPServer(
            (host, port), self._handler_class()
        )
        self._server.daemon_threads = True
        self._thread = None

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def url(self):
        host, port = self._server.server_address[:2]
        return f'http://{host}:{port}'

    def start(self):
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            name='metadata-proxy',
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def forward(self, method, path):
        """(status, [(header, value)], body) of ``method path`` upstream."""
        req = urllib.request.Request(
            self.upstream_url + path, method=method, headers=self.headers
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, resp.getheaders(), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.items(), e.read()
        except OSError as e:
            return (
                502,
                [('Content-Type', 'text/plain')],
                f'metadata upstream: {e}\n'.encode(),
            )

    def _handler_class(proxy):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def _relay(self, send_body):
                status, headers, body = proxy.forward(self.command, self.path)
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in HOP_BY_HOP | {'content-length'}:
                        self.send_header(key, value)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                if send_body:
                    self.wfile.write(body)

            def do_GET(self):
                self._relay(True)

            def do_HEAD(self):
                self._relay(False)

            def log_message(self, fmt, *args):  # keep test output clean
                pass

        return Handler


def main(argv=None):
    from vsm_devenv.localcloud import info as info_mod
    from vsm_devenv.localcloud.layout import Layout

    p = argparse.ArgumentParser(
        description='Neutron-style metadata proxy for one instance'
    )
    p.add_argument('--instance-id', required=True)
    p.add_argument('--project-id', required=True)
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, default=0)
    args = p.parse_args(argv)
    cloud = info_mod.load(Layout())
    if not cloud:
        raise SystemExit(
            'local cloud not up: python -m vsm_devenv.localcloud up'
        )
    proxy = MetadataProxy(
        args.instance_id,
        args.project_id,
        cloud['metadata']['url'],
        cloud['metadata']['shared_secret'],
        args.host,
        args.port,
    )
    print(f'metadata proxy for {args.instance_id} on {proxy.url}', flush=True)
    try:
        proxy._server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
