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

"""The closed loop, end to end: agent in a QEMU guest, listener, real cloud.

One server + guest for the whole class, one data volume per scenario; the
agent is restarted for each scenario with only that scenario's mount in
``[discovery] include_mounts``, so scenarios do not disturb each other.

(a) fill past the threshold -> request -> grant -> Cinder extend -> Nova
    ``volume-extended`` -> QMP block_resize -> the guest kernel's capacity
    change -> growpart + resize2fs / xfs_growfs online -> ``st=grown``,
    for ext4 on a GPT partition and for XFS; data checksums intact.
(b) a request beyond the project's Keystone limit is denied; the agent
    stops asking and says so in ``vsm-agent status``, the motd and its log;
    Cinder's size is unchanged.
(c) the race: a writer consuming space at RACE_RATE_MB MB/s outruns a
    fixed 1 GiB step triggered at 90 % (ENOSPC), while the default policy
    (predictive trigger + adaptive step) keeps ahead of it (no ENOSPC).
    Space is consumed with posix_fallocate at a paced rate: a TCG guest
    cannot write more than ~30 MB/s for real (see doc/source/demo.rst).
"""

import time

from vsm_agent import protocol
from vsm_devenv import closedloop
from vsm_devenv.wait import wait_for
from vsm_tests.e2e import base

GiB = closedloop.GiB
MiB = closedloop.MiB
HIGH_LIMIT_GB = 100000
RACE_RATE_MB = 60
RACE_TOTAL_MB = 2600

#: Agent settings of the scenarios: fast sampling, a plain 80 % threshold.
FAST = {'triggers': {'used_pct': '80', 'sustained_samples': '1'}}
#: (c), the losing side: fixed small step, asked late, no forecast.
FIXED_SMALL = {
    'sizing': {'policy': 'fixed', 'fixed_gb': '1'},
    'triggers': {
        'used_pct': '90',
        'lead_time_s': '0',
        'emergency_used_pct': '0',
        'sustained_samples': '1',
    },
}
#: (c), the winning side: the default policy (adaptive step, predictive
#: trigger), with the same late threshold.
DEFAULT_POLICY = {'triggers': {'used_pct': '90', 'sustained_samples': '1'}}


class ClosedLoopTest(base.LoopTestCase):
    VOLUMES = [
        dict(
            name='ext4', size_gb=1, layout='ext4-part', mountpoint='/data-ext4'
        ),
        dict(name='xfs', size_gb=1, layout='xfs-part', mountpoint='/data-xfs'),
        dict(
            name='limit',
            size_gb=1,
            layout='ext4-part',
            mountpoint='/data-limit',
        ),
        dict(
            name='fixed',
            size_gb=2,
            layout='ext4-part',
            mountpoint='/race-fixed',
        ),
        dict(
            name='adaptive',
            size_gb=2,
            layout='ext4-part',
            mountpoint='/race-adaptive',
        ),
    ]
    LIMIT_GB = HIGH_LIMIT_GB
    LISTENER = True
    # the race grows a 2 GiB volume several times within a minute: keep
    # the runaway-growth cap out of it (its own tests are authz's)
    LISTENER_OPTIONS = {'expansion_policy': {'runaway_factor': '0'}}

    def _agent_for(self, name, options):
        spec = self.loop.volume(name)
        opts = {s: dict(o) for s, o in options.items()}
        opts.setdefault('discovery', {})['include_mounts'] = spec.mountpoint
        self.loop.start_agent(opts)
        self.addCleanup(self.loop.stop_agent)

    # ------------------------------------------------------------------ (a)
    def _grow_online(self, name):
        loop = self.loop
        spec = loop.volume(name)
        loop.set_limit(HIGH_LIMIT_GB)
        before_gb = loop.cloud.volume_size(spec.volume_id)
        _, fs_before, _ = loop.statvfs(name)
        # some real data first, to prove the grow keeps it intact
        data = spec.mountpoint + '/precious.bin'
        loop.guest.exec(
            [
                'dd',
                'if=/dev/urandom',
                'of=' + data,
                'bs=1M',
                'count=16',
                'conv=fsync',
            ],
            timeout=300,
        )
        digest = loop.checksum(data)
        self._agent_for(name, FAST)
        loop.allocate(name, fraction=0.9)
        ack = loop.wait_for_request_state(name, 'grown', timeout=240)
        after_gb = loop.cloud.volume_size(spec.volume_id)
        self.assertGreater(after_gb, before_gb)
        self.assertEqual(after_gb, ack.current_gb)
        # the guest kernel and the filesystem see the new size
        dev = loop.guest.device_for_serial(spec.volume_id)
        self.assertEqual(after_gb * GiB, loop.guest.disk_size_bytes(dev))
        _, fs_after, _ = loop.statvfs(name)
        self.assertGreater(fs_after, fs_before)
        self.assertGreater(fs_after, (after_gb - 0.15) * GiB)
        self.assertEqual(digest, loop.checksum(data))
        # the service's answer and its database agree
        resp = loop.wait_for_response_state(name, 'extended', timeout=60)
        self.assertEqual(ack.request_id, resp.request_id)
        self.assertEqual(after_gb, resp.size_gb)

        def recorded():
            rows = [
                r
                for r in loop.db_rows('expansion_requests')
                if r['request_id'] == ack.request_id
            ]
            return rows if rows and rows[0]['state'] == 'grown' else None

        rows = wait_for(
            recorded, 60, 'the grown state in the authz DB'
        )
        self.assertEqual(after_gb, rows[0]['final_size_gb'])
        return ack

    def test_a_ext4_on_gpt_grows_online(self):
        self._grow_online('ext4')
        check = self.loop.guest.check_disk(self.loop.volume('ext4').prepared)
        self.assertEqual(0, check.rc, check.stdout + check.stderr)

    def test_a_xfs_grows_online(self):
        self._grow_online('xfs')

    # ------------------------------------------------------------------ (b)
    def test_b_over_the_limit_is_denied_and_the_agent_stops_asking(self):
        loop = self.loop
        spec = loop.volume('limit')
        before_gb = loop.cloud.volume_size(spec.volume_id)
        # the project's limit is exactly what its volumes use now
        usage = loop.cloud.project_usage_gb(loop.cloud.project_id('demo'))
        loop.set_limit(usage)
        self.addCleanup(loop.set_limit, HIGH_LIMIT_GB)
        self._agent_for('limit', FAST)
        loop.allocate('limit', fraction=0.9)
        resp = loop.wait_for_response_state('limit', 'denied', timeout=240)
        self.assertEqual(protocol.Reason.OVER_LIMIT, resp.reason)
        req = loop.metadata_entry('limit').request
        self.assertEqual(resp.request_id, req.request_id)
        # the agent stops asking: no new request, despite the full disk
        time.sleep(20)
        later = loop.metadata_entry('limit').request
        self.assertEqual(
            (req.request_id, req.seq, req.timestamp),
            (later.request_id, later.seq, later.timestamp),
        )
        self.assertEqual(before_gb, loop.cloud.volume_size(spec.volume_id))
        # ... and says so: status, motd, log
        status = loop.agent_status()
        self.assertEqual(0, status.rc, status.stderr)
        self.assertIn('denied', status.stdout.lower())
        motd = loop.guest.read_file(closedloop.AGENT_MOTD).decode()
        self.assertIn(spec.mountpoint, motd)
        self.assertIn('denied', motd.lower())
        self.assertIn('denied', loop.agent_log().lower())

    # ------------------------------------------------------------------ (c)
    def _race(self, name, options):
        loop = self.loop
        loop.set_limit(HIGH_LIMIT_GB)
        self._agent_for(name, options)
        writer = loop.start_writer(
            name, rate_mb=RACE_RATE_MB, total_mb=RACE_TOTAL_MB
        )
        summary = writer.wait(timeout=300)
        self.addDetail(
            'writer-' + name, base.content.text_content(str(summary))
        )
        return summary, loop.cloud.volume_size(loop.volume(name).volume_id)

    def test_c_fixed_small_step_is_outrun(self):
        summary, size = self._race('fixed', FIXED_SMALL)
        self.assertGreater(
            summary['enospc'],
            0,
            'a fixed 1 GiB step asked at 90 %% kept up with %d MB/s: %s'
            % (RACE_RATE_MB, summary),
        )

    def test_c_default_policy_keeps_ahead(self):
        summary, size = self._race('adaptive', DEFAULT_POLICY)
        self.assertEqual(0, summary['enospc'], summary)
        self.assertEqual(RACE_TOTAL_MB, summary['written_mb'])
        self.assertGreater(size, 2)
        self.assertGreaterEqual(size * 1024, RACE_TOTAL_MB)
