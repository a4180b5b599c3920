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

"""Fakes for the agent's unit tests: a fixture /proc /sys /dev tree, a
fake Nova channel, a fake grow pipeline, an agent configuration, and
:class:`AgentTestCase`, an agent on all of them with a fake clock.

:class:`FakeSystem` builds the files discovery reads, the way the kernel
lays them out (``/sys/class/block/<name>`` is a symlink into
``/sys/devices/.../block/<disk>/<partition>``, ``/sys/dev/block/M:m``
links to the same place), so discovery runs unmodified against it.
"""

import os

import fixtures
from oslo_config import cfg
import testtools

from vsm_agent import channel
from vsm_agent import discovery
from vsm_agent import grow
from vsm_agent import monitor
from vsm_agent import opts
from vsm_agent import protocol
from vsm_agent import service

GIB = 1024 ** 3
VOL = '6f1c2a4e-0b8d-4c1e-9a57-3d2f00c1ab42'
REQ_KEY = 'vsm:req:' + VOL
RESP_KEY = 'vsm:resp:' + VOL


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)


class FakeSystem(fixtures.Fixture):
    """A fake kernel view: disks, partitions, LVM, mounts, by-id links."""

    def _setUp(self):
        self.root = self.useFixture(fixtures.TempDir()).path
        self.proc = os.path.join(self.root, 'proc')
        self.sys = os.path.join(self.root, 'sys')
        self.dev = os.path.join(self.root, 'dev')
        for d in (self.proc + '/self', self.sys + '/class/block',
                  self.sys + '/dev/block', self.dev + '/disk/by-id',
                  self.dev + '/mapper'):
            os.makedirs(d)
        self._mounts = []
        self._next_minor = {}
        self._write_mountinfo()

    @property
    def roots(self):
        return discovery.Roots(proc=self.proc, sys=self.sys, dev=self.dev)

    def _link_device(self, name, devpath, major, minor):
        os.symlink(os.path.relpath(devpath, self.sys + '/class/block'),
                   os.path.join(self.sys, 'class', 'block', name))
        os.symlink(os.path.relpath(devpath, self.sys + '/dev/block'),
                   os.path.join(self.sys, 'dev', 'block',
                                '%d:%d' % (major, minor)))
        _write(os.path.join(devpath, 'dev'), '%d:%d\n' % (major, minor))
        _write(os.path.join(self.dev, name), '')

    def add_disk(self, name, size_bytes=10 * GIB, serial=None, major=252,
                 minor=None, bus='virtio'):
        if minor is None:
            minor = self._next_minor.get(major, 0)
        self._next_minor[major] = minor + 16
        devpath = os.path.join(self.sys, 'devices', 'pci0000:00', bus + name,
                               'block', name)
        os.makedirs(devpath)
        _write(os.path.join(devpath, 'size'), '%d\n' % (size_bytes // 512))
        if serial is not None and bus == 'virtio':
            _write(os.path.join(devpath, 'serial'), serial + '\n')
        self._link_device(name, devpath, major, minor)
        return major, minor

    def set_size(self, name, size_bytes):
        path = os.path.realpath(os.path.join(self.sys, 'class', 'block',
                                             name))
        _write(os.path.join(path, 'size'), '%d\n' % (size_bytes // 512))

    def add_partition(self, disk, number, size_bytes=None):
        disk_path = os.path.realpath(os.path.join(self.sys, 'class', 'block',
                                                  disk))
        with open(os.path.join(disk_path, 'dev')) as f:
            major, minor = (int(x) for x in f.read().split(':'))
        name = '%s%d' % (disk, number)
        devpath = os.path.join(disk_path, name)
        os.makedirs(devpath)
        _write(os.path.join(devpath, 'partition'), '%d\n' % number)
        _write(os.path.join(devpath, 'size'),
               '%d\n' % ((size_bytes or GIB) // 512))
        self._link_device(name, devpath, major, minor + number)
        return major, minor + number

    def add_lv(self, index, vg, lv, pvs, size_bytes=GIB):
        name = 'dm-%d' % index
        devpath = os.path.join(self.sys, 'devices', 'virtual', 'block', name)
        os.makedirs(os.path.join(devpath, 'slaves'))
        dm_name = '%s-%s' % (vg.replace('-', '--'), lv.replace('-', '--'))
        _write(os.path.join(devpath, 'dm', 'name'), dm_name + '\n')
        _write(os.path.join(devpath, 'dm', 'uuid'),
               'LVM-%032x\n' % (index + 1))
        _write(os.path.join(devpath, 'size'), '%d\n' % (size_bytes // 512))
        for pv in pvs:
            os.symlink('../../' + pv, os.path.join(devpath, 'slaves', pv))
        self._link_device(name, devpath, 253, index)
        os.symlink('../' + name, os.path.join(self.dev, 'mapper', dm_name))
        return 253, index

    def add_by_id(self, link_name, target):
        os.symlink('../../' + target,
                   os.path.join(self.dev, 'disk', 'by-id', link_name))

    def mount(self, mountpoint, fstype, devnum, source=None, root='/'):
        self._mounts.append((devnum, root, mountpoint, fstype,
                             source or 'none'))
        self._write_mountinfo()

    def unmount(self, mountpoint):
        self._mounts = [m for m in self._mounts if m[2] != mountpoint]
        self._write_mountinfo()

    def _write_mountinfo(self):
        lines = ['21 1 0:20 / /proc rw,nosuid - proc proc rw',
                 '22 1 0:21 / /run rw,nosuid - tmpfs tmpfs rw']
        for i, (devnum, root, mp, fstype, source) in enumerate(self._mounts):
            lines.append('%d 1 %d:%d %s %s rw,relatime shared:%d - %s %s rw'
                         % (100 + i, devnum[0], devnum[1], root,
                            mp.replace(' ', '\\040'), i, fstype, source))
        _write(os.path.join(self.proc, 'self', 'mountinfo'),
               '\n'.join(lines) + '\n')


class FakeChannel:
    """Records writes; serves a metadata dict the test controls."""

    def __init__(self, server_id='0b1e4d1a-7d2c-4c8e-9a7e-2f5d6c7b8a90'):
        self.metadata = {}
        self.document = {'uuid': server_id, 'meta': self.metadata}
        self._server_id = server_id
        self.writes = []
        self.reads = 0
        self.fail_reads = None
        self.fail_writes = None
        self.last_read_source = 'metadata'
        self.devices = set()
        self.attachments = set()
        self.can_write = True

    @property
    def server_id(self):
        return self._server_id

    def fetch_document(self):
        if self.fail_reads:
            raise channel.ChannelError(self.fail_reads)
        self.document = {'uuid': self._server_id, 'meta': self.metadata,
                         'devices': [{'type': 'disk', 'serial': d}
                                     for d in sorted(self.devices)]}
        return self.document

    def read_metadata(self):
        self.reads += 1
        if self.fail_reads:
            raise channel.ChannelError(self.fail_reads)
        return dict(self.metadata)

    def device_volume_ids(self):
        return set(self.devices)

    def attached_volume_ids(self):
        return set(self.attachments)

    def write(self, key, value):
        if self.fail_writes:
            raise channel.ChannelError(self.fail_writes)
        self.writes.append((key, value))
        self.metadata[key] = value


class FakeUsage:
    """Stands in for monitor.sample: usage per mountpoint, set by tests."""

    def __init__(self):
        self.usage = {}

    def set(self, mountpoint, size_bytes, used_pct, inodes=1000,
            inodes_used_pct=1.0):
        used = int(size_bytes * used_pct / 100)
        self.usage[mountpoint] = (size_bytes, used, inodes,
                                  int(inodes * (1 - inodes_used_pct / 100)))

    def __call__(self, mountpoint, now):
        if mountpoint not in self.usage:
            raise OSError(2, 'No such mount', mountpoint)
        size, used, inodes, ffree = self.usage[mountpoint]
        return monitor.Sample(timestamp=now, size_bytes=size,
                              used_bytes=used, avail_bytes=size - used,
                              inodes=inodes, inodes_free=ffree)


def make_conf(tmpdir, system=None, **overrides):
    """A fully registered agent configuration pointing at ``tmpdir``.

    ``overrides`` are ``group__option=value``.
    """
    conf = cfg.ConfigOpts()
    opts.register_opts(conf)
    conf([], project='vsm-agent-test', default_config_files=[])
    conf.set_override('state_dir', os.path.join(tmpdir, 'state'), 'agent')
    conf.set_override('status_file', os.path.join(tmpdir, 'run',
                                                  'status.json'), 'alerts')
    conf.set_override('motd_dir', os.path.join(tmpdir, 'motd.d'), 'alerts')
    conf.set_override('write_jitter_s', 0.0, 'nova')
    conf.set_override('exclude_mounts', [], 'discovery')
    if system is not None:
        conf.set_override('proc_root', system.proc, 'discovery')
        conf.set_override('sys_root', system.sys, 'discovery')
        conf.set_override('dev_root', system.dev, 'discovery')
    for name, value in overrides.items():
        group, _, opt = name.partition('__')
        conf.set_override(opt, value, group)
    return conf


class FakeGrower:
    def __init__(self):
        self.calls = []
        self.fail = 0

    def __call__(self, mount, runner=None):
        self.calls.append(mount.mountpoint)
        if self.fail:
            self.fail -= 1
            return grow.GrowResult(False, False, 1, 1,
                                   failed_step='filesystem',
                                   error='exit 1: resize2fs: boom')
        return grow.GrowResult(True, True, 10 * GIB, 12 * GIB)


class AgentTestCase(testtools.TestCase):
    """An agent on a fake system, channel, grow pipeline and clock: /srv
    on volume VOL (vdb1) and / on an image disk (vda1)."""

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.system = self.useFixture(FakeSystem())
        self.system.add_disk('vdb', 10 * GIB, serial=VOL[:20])
        self.system.mount('/srv', 'ext4', self.system.add_partition('vdb', 1),
                          '/dev/vdb1')
        self.system.add_disk('vda', 20 * GIB)
        self.system.mount('/', 'ext4', self.system.add_partition('vda', 1),
                          '/dev/vda1')
        self.usage = FakeUsage()
        self.usage.set('/srv', 10 * GIB, 50)
        self.usage.set('/', 20 * GIB, 90)
        self.useFixture(fixtures.MockPatch('vsm_agent.monitor.sample',
                                           new=self.usage))
        self.channel = FakeChannel()
        self.channel.devices.add(VOL)
        self.grower = FakeGrower()
        self.now = 1764097200.0
        self.conf = make_conf(self.tmp, self.system, sizing__policy='fixed',
                              sizing__fixed_gb=2)
        self.agent = self.new_agent()

    def new_agent(self):
        return service.Agent(self.conf, nova=self.channel,
                             clock=lambda: self.now, listener=False,
                             use_uevents=False, grower=self.grower)

    def run_for(self, seconds, step=0.5, agent=None):
        agent = agent or self.agent
        end = self.now + seconds
        while self.now < end:
            agent.tick(self.now)
            self.now += step

    def request(self):
        return protocol.parse_request(REQ_KEY, self.channel.metadata[REQ_KEY])

    def answer(self, st, size=12, **kw):
        req = self.request()
        self.channel.metadata[RESP_KEY] = protocol.ExpansionResponse(
            volume_id=VOL, request_id=req.request_id, seq=req.seq,
            state=st, size_gb=size, timestamp=int(self.now),
            reason=kw.pop('reason', 'ok'), **kw).encode()

    def vs(self, agent=None):
        return (agent or self.agent).store.volume(VOL)
