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

"""20 concurrent requests near the project's limit, 2 worker processes,
VSM's state on MariaDB: the limit is never overshot."""

import concurrent.futures

from vsm_agent import protocol
from vsm_devenv.wait import wait_for
from vsm_tests.functional.authz import base

SERVERS = 2
VOLUMES_PER_SERVER = 10
HEADROOM_GB = 7


class TestNoOvershoot(base.ListenerTestCase):

    database = 'mariadb'
    workers = 2

    def _attach_volumes(self, guest, count):
        bs, compute = self.demo.block_storage, self.demo.compute
        volumes = [bs.create_volume(size=1, volume_type='fake',
                                    name='vsm-flow-c%d' % i)
                   for i in range(count)]
        self.addCleanup(self._delete_volumes, volumes)
        for volume in volumes:
            bs.wait_for_status(volume, 'available', wait=120)
        for volume in volumes:
            compute.create_volume_attachment(guest.server,
                                             volume_id=volume.id)
            bs.wait_for_status(bs.get_volume(volume.id), 'in-use', wait=120)
        return [v.id for v in volumes]

    def _delete_volumes(self, volumes):
        # Cleanups run last-in first-out: delete the servers (which
        # detaches these volumes) first.
        self._delete_guests()
        bs = self.demo.block_storage
        for volume in volumes:
            try:
                bs.wait_for_status(bs.get_volume(volume.id), 'available',
                                   wait=120)
                bs.delete_volume(volume.id)
            except Exception:
                pass

    def test_concurrent_requests_never_overshoot(self):
        if self.shared_queue_consumers():
            # Another VSM listener (own database, own locks) serves every
            # project: two deployments on one project can overshoot
            # together, which proves nothing about this one.
            self.skipTest('another vsm-authz-listener without a project '
                          'filter consumes %s.info on this cloud'
                          % self.info['notifications']['topic'])
        self.addCleanup(self.cloud.set_limit, self.project.id, None)
        guests = [self.boot(name='vsm-flow-conc%d' % i)
                  for i in range(SERVERS)]
        volumes = {g.id: self._attach_volumes(g, VOLUMES_PER_SERVER)
                   for g in guests}
        usage = self.cloud.project_usage_gb(self.project.id)
        limit = usage + HEADROOM_GB
        self.cloud.set_limit(self.project.id, limit)
        self.start_listener()

        requests = {}

        def write_all(guest):
            # One writer per server, like the agent (concurrent writers
            # on one server lose each other's keys in Nova).
            for volume_id in volumes[guest.id]:
                requests[volume_id] = (guest, guest.write_request(
                    volume_id, want=2, cur=1))
        with concurrent.futures.ThreadPoolExecutor(SERVERS) as pool:
            list(pool.map(write_all, guests))

        def all_answered():
            final = {}
            for guest in guests:
                metadata = guest.metadata()
                for volume_id in volumes[guest.id]:
                    _, request = requests[volume_id]
                    value = metadata.get(protocol.response_key(volume_id))
                    answer = value and protocol.parse_response(
                        protocol.response_key(volume_id), value)
                    if answer and answer.answers(request) and answer.final:
                        final[volume_id] = answer
                    elif metadata.get(request.key) != request.encode():
                        # The guest re-asserts its lost key.
                        guest.write(request.key, request.encode())
            return final if len(final) == len(requests) else None
        answers = wait_for(all_answered, 240, 'all 20 answered',
                           interval=2, ignore=base.TRANSIENT)

        granted = [v for v, a in answers.items()
                   if a.state is protocol.ResponseState.EXTENDED]
        denied = [a.reason for a in answers.values()
                  if a.state is protocol.ResponseState.DENIED]
        final_usage = self.cloud.project_usage_gb(self.project.id)
        self.assertLessEqual(final_usage, limit)
        self.assertEqual(HEADROOM_GB, len(granted))
        self.assertEqual(['over_limit'] * (len(requests) - HEADROOM_GB),
                         denied)
        self.assertEqual(usage + HEADROOM_GB, final_usage)
