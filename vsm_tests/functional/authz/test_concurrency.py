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

    def _create_volumes(self, count):
        return [self.cloud.create_volume(1, cloud=self.demo,
                                         name='vsm-flow-c%d' % i).id
                for i in range(count)]

    def test_concurrent_requests_never_overshoot(self):
        if self.shared_queue_consumers():
            # Another VSM listener (own database, own locks) serves every
            # project: two deployments on one project can overshoot
            # together, which proves nothing about this one.
            self.skipTest('another vsm-authz-listener without a project '
                          'filter consumes %s.info on this cloud'
                          % self.info['notifications']['topic'])
        self.addCleanup(self.cloud.set_project_limit, self.project.id, None)
        # Volumes first: cleanups run last-in first-out, so the servers
        # are deleted (detaching these) before the volumes.
        extra = [self._create_volumes(VOLUMES_PER_SERVER)
                 for _ in range(SERVERS)]
        guests = [self.boot(name='vsm-flow-conc%d' % i)
                  for i in range(SERVERS)]
        volumes = {}
        for guest, volume_ids in zip(guests, extra):
            for volume_id in volume_ids:
                self.cloud.attach_volume(guest.id, volume_id, cloud=self.demo)
            volumes[guest.id] = volume_ids
        usage = self.cloud.project_usage_gb(self.project.id)
        limit = usage + HEADROOM_GB
        self.cloud.set_project_limit(self.project.id, limit)
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
