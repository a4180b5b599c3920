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

"""The loop's plumbing, without VSM: every link the agent and service rely on.

* a Cinder extend (admin, in use, 3.42) reaches the QEMU guest through the
  real Cinder -> Nova ``volume-extended`` -> QMPFakeDriver path: the guest
  kernel sees the capacity change;
* the guest reads its metadata at 169.254.169.254 (through the signing
  proxy), and sees a metadata change;
* the guest writes its own server's metadata through the Nova API with the
  application credential, and the access rules refuse anything else.
"""

import json

from vsm_devenv import closedloop
from vsm_devenv.wait import wait_for
from vsm_tests.e2e import base

GiB = closedloop.GiB

# In the guest: python3 -c PROBE <auth_url> <nova_url> <cred> <secret> <server>
NOVA_PROBE = r'''
import json, sys
from keystoneauth1 import session
from keystoneauth1.identity import v3
auth_url, nova, cred, secret, server = sys.argv[1:6]
s = session.Session(auth=v3.ApplicationCredential(
    auth_url=auth_url, application_credential_id=cred,
    application_credential_secret=secret))
h = {'OpenStack-API-Version': 'compute 2.67'}
out = {}
r = s.put(nova + '/servers/%s/metadata/vsm-e2e-probe' % server,
          json={'meta': {'vsm-e2e-probe': 'from-guest'}}, headers=h,
          raise_exc=False)
out['put_own'] = r.status_code
r = s.get(nova + '/servers/%s/metadata' % server, headers=h, raise_exc=False)
out['get_own'] = r.status_code
r = s.get(nova + '/servers/%s' % server, headers=h, raise_exc=False)
out['get_server'] = r.status_code
r = s.get(nova + '/servers', headers=h, raise_exc=False)
out['list_servers'] = r.status_code
print(json.dumps(out))
'''

META_PROBE = r'''
import json, urllib.request
with urllib.request.urlopen(
        'http://169.254.169.254/openstack/latest/meta_data.json',
        timeout=10) as r:
    d = json.load(r)
print(json.dumps({'uuid': d.get('uuid'), 'meta': d.get('meta', {}),
                  'project_id': d.get('project_id')}))
'''


class HypervisorLinkTest(base.LoopTestCase):
    VOLUMES = [dict(name='probe', size_gb=1, layout=None)]

    def test_cinder_extend_grows_the_guest_disk(self):
        loop = self.loop
        spec = loop.volume('probe')
        dev = loop.guest.device_for_serial(spec.volume_id)
        self.assertEqual(1 * GiB, loop.guest.disk_size_bytes(dev))
        cursor = loop.guest.uevent_cursor()
        size = loop.cloud.volume_size(spec.volume_id)
        loop.cloud.extend_volume(spec.volume_id, size + 1, cloud='admin',
                                 wait=False)
        ev = loop.guest.wait_uevent(
            lambda env: (
                env.get('DEVNAME') == dev[5:] and env.get('RESIZE') == '1'
            ),
            timeout=60,
            since=cursor,
        )
        self.assertIsNotNone(ev)
        self.assertEqual((size + 1) * GiB, loop.guest.disk_size_bytes(dev))
        wait_for(
            lambda: loop.cloud.admin.block_storage.get_volume(
                spec.volume_id).status == 'in-use',
            30,
            'volume back in-use',
        )
        self.assertEqual(size + 1, loop.cloud.volume_size(spec.volume_id))
        actions = [
            a['action'] for a in loop.cloud.instance_actions(loop.server_id)
        ]
        self.assertIn('extend_volume', actions)

    def test_guest_reads_its_metadata_service(self):
        loop = self.loop
        out = json.loads(loop.guest.exec(['python3', '-c', META_PROBE]).stdout)
        self.assertEqual(loop.server_id, out['uuid'])
        self.assertEqual(loop.cloud.project_id('demo'), out['project_id'])
        loop.cloud.set_server_metadata_key(
            loop.server_id, 'vsm-e2e-admin', 'hello', cloud='admin')

        def seen():
            out = json.loads(
                loop.guest.exec(['python3', '-c', META_PROBE]).stdout
            )
            return out['meta'].get('vsm-e2e-admin') == 'hello'

        wait_for(
            seen, 30, 'the metadata change in the guest', interval=1
        )

    def test_guest_writes_only_its_metadata_with_the_app_credential(self):
        loop = self.loop
        from urllib.parse import urlsplit

        ks = urlsplit(loop.cloud.info['endpoints']['keystone'])
        nova = urlsplit(loop.cloud.info['endpoints']['nova'])
        cred, secret = loop.app_credential.id, loop.app_credential.secret
        out = json.loads(
            loop.guest.exec(
                [
                    'python3',
                    '-c',
                    NOVA_PROBE,
                    'http://%s:%d%s'
                    % (closedloop.GUEST_API_ADDR, ks.port, ks.path),
                    'http://%s:%d%s'
                    % (closedloop.GUEST_API_ADDR, nova.port, nova.path),
                    cred,
                    secret,
                    loop.server_id,
                ],
                timeout=120,
            ).stdout
        )
        self.assertEqual(200, out['put_own'])
        self.assertEqual(200, out['get_own'])
        # access rules: nothing but this server's metadata
        self.assertIn(out['get_server'], (401, 403))
        self.assertIn(out['list_servers'], (401, 403))
        meta = loop.cloud.server_metadata(loop.server_id)
        self.assertEqual('from-guest', meta.get('vsm-e2e-probe'))
