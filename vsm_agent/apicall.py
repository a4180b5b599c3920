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

"""One Nova API call with keystoneauth1, in-process or in a short-lived child.

keystoneauth1 (and requests, urllib3, ...) add ~8 MB to the daemon's RSS,
for calls that happen a few times per expansion. By default
(``[nova] isolate_api_calls = true``) :mod:`vsm_agent.channel` runs each
call as ``python -m vsm_agent.apicall`` with the parameters — secret
included — as JSON on stdin (never on the command line), so the daemon
itself never loads keystoneauth1. The price is one Keystone token per call
and ~0.3 s of interpreter start-up, both negligible at that rate.

The parameters (stdin) and result (stdout) are JSON::

    {"auth": {"auth_url": ..., "application_credential_id": ...,
              "application_credential_secret": ..., "region_name": ...,
              "interface": "public", "endpoint_override": null,
              "cafile": null, "insecure": false, "timeout": 10.0},
     "method": "PUT", "path": "/servers/<id>/metadata/<key>", "body": {...}}

    {"status": 200, "body": {...}}     or     {"error": "...", "status": null}

:func:`call` is the same thing in-process (``isolate_api_calls = false``).
"""

import json
import sys


def make_adapter(auth: dict):
    """A keystoneauth1 Adapter for the compute service."""
    from keystoneauth1 import adapter
    from keystoneauth1.identity import v3
    from keystoneauth1 import session
    plugin = v3.ApplicationCredential(
        auth_url=auth['auth_url'],
        application_credential_id=auth['application_credential_id'],
        application_credential_secret=auth['application_credential_secret'])
    verify = False if auth.get('insecure') else (auth.get('cafile') or True)
    sess = session.Session(auth=plugin, verify=verify,
                           timeout=auth.get('timeout') or 10.0)
    return adapter.Adapter(sess, service_type='compute',
                           interface=auth.get('interface') or 'public',
                           region_name=auth.get('region_name'),
                           endpoint_override=auth.get('endpoint_override'))


def call(adapter, method: str, path: str, body=None) -> dict:
    """One request; returns {"status", "body"} or {"error", "status": None}."""
    from keystoneauth1 import exceptions as ks_exc
    try:
        resp = adapter.request(path, method, json=body, raise_exc=False)
    except ks_exc.ClientException as exc:
        # Connection, timeout, auth and catalog errors alike.
        return {'error': '%s: %s' % (type(exc).__name__, exc),
                'status': None}
    try:
        payload = resp.json() if resp.content else {}
    except ValueError:
        payload = {'text': resp.text[:500]}
    return {'status': resp.status_code, 'body': payload}


def main() -> int:
    params = json.load(sys.stdin)
    result = call(make_adapter(params['auth']), params['method'],
                  params['path'], params.get('body'))
    json.dump(result, sys.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main())
