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

"""Discovery: which mounted filesystem lives on which Cinder volume.

The agent may only ever ask for, and grow, storage it can tie to a Cinder
volume attached to this server. Discovery walks, for every mount::

    /proc/self/mountinfo  mountpoint, fs type, major:minor, source
      -> /sys/dev/block/MAJ:MIN   the fs's block device (vdb1, dm-0, vdc)
      -> LVM (dm-N with a ``LVM-`` uuid): LV -> VG -> the PV (dm/slaves)
      -> partition (``partition`` file) -> the whole disk
      -> the disk's serial: /sys/block/vdX/serial (virtio-blk, the first 20
         characters of the volume id) or /dev/disk/by-id names
         (virtio-scsi ``scsi-0QEMU_QEMU_HARDDISK_<id>``, ``virtio-<id>``)
      -> a full volume id whose first 20 characters match

It only reads files; it runs no command and touches no device, so it is
cheap enough to repeat every minute and safe to run against fixture trees:
every root (``/proc``, ``/sys``, ``/dev``) comes from :class:`Roots`.

Use it like this::

    roots = discovery.Roots.from_conf(conf)
    mounts = discovery.discover(roots, known_volume_ids={'6f1c...'},
                                selector=discovery.MountSelector(
                                    include=['/srv/*'], exclude=[]))
    for m in mounts:
        m.mountpoint, m.fstype, m.volume_id, m.expandable, m.not_expandable_why

Full volume ids come from the caller (``known_volume_ids``): the metadata
service's ``devices`` list, existing ``vsm:`` keys, the Nova API's volume
attachments or ``[discovery] static_volumes``. A disk whose serial matches
no known id is reported with its serial in :attr:`Mount.serial` and
:attr:`Mount.volume_id` ``None``: the caller may look the prefix up and
discover again. A disk without any serial (a root disk created from an
image, a local ephemeral disk) is never expandable.

Limits (reported, never guessed): an LV spanning several PVs, multi-device
btrfs, MD RAID and filesystems other than ext2/3/4, XFS and btrfs are
listed as not expandable with the reason.
"""

import dataclasses
import fnmatch
import os
import typing

from oslo_config import cfg

from vsm_agent import blockdev

discovery_opts = [
    cfg.StrOpt('proc_root', default='/proc',
               help='Root of the proc filesystem (tests point this at a '
                    'fixture tree).'),
    cfg.StrOpt('sys_root', default='/sys',
               help='Root of sysfs (tests point this at a fixture tree).'),
    cfg.StrOpt('dev_root', default='/dev',
               help='Root of the device tree (tests point this at a '
                    'fixture tree).'),
    cfg.ListOpt('include_mounts', default=[],
                help='Mountpoint patterns (fnmatch) to manage. Empty: every '
                     'mount that sits on an attached Cinder volume.'),
    cfg.ListOpt('exclude_mounts', default=['/', '/boot', '/boot/*'],
                help='Mountpoint patterns (fnmatch) never to manage, '
                     'checked after include_mounts.'),
    cfg.ListOpt('static_volumes', default=[],
                help='Extra "<disk>=<volume id>" mappings for disks that '
                     'carry no serial. <disk> is a /dev/disk/by-* path or '
                     'a kernel name (kernel names are not stable across '
                     'reboots: prefer by-path/by-uuid).'),
    cfg.ListOpt('volume_ids', default=[],
                help='Full Cinder volume ids attached to this server, if '
                     'known in advance. Normally discovered from the '
                     'metadata service "devices" list or the Nova API.'),
]

GROUP = 'discovery'

#: Filesystems the agent can grow online (see grow.FILESYSTEM_GROWERS).
GROWABLE_FILESYSTEMS = frozenset({'ext2', 'ext3', 'ext4', 'xfs', 'btrfs'})

#: Length of the volume id prefix virtio-blk keeps as the disk serial.
VIRTIO_SERIAL_LENGTH = 20

#: /dev/disk/by-id prefixes whose remainder is (a prefix of) the volume id.
BY_ID_PREFIXES = ('virtio-', 'scsi-0QEMU_QEMU_HARDDISK_',
                  'scsi-SQEMU_QEMU_HARDDISK_')


def list_opts():
    return [(GROUP, discovery_opts)]


@dataclasses.dataclass(frozen=True)
class Roots:
    """Where the kernel's trees are; fixture trees in tests."""

    proc: str = '/proc'
    sys: str = '/sys'
    dev: str = '/dev'

    @classmethod
    def from_conf(cls, conf) -> 'Roots':
        group = conf[GROUP]
        return cls(proc=group.proc_root, sys=group.sys_root,
                   dev=group.dev_root)


@dataclasses.dataclass(frozen=True)
class LogicalVolume:
    """An LVM logical volume the filesystem sits on."""

    vg: str
    lv: str
    dm_name: str
    pv_devices: typing.Tuple[str, ...]

    @property
    def path(self) -> str:
        return '/dev/%s/%s' % (self.vg, self.lv)


@dataclasses.dataclass
class Mount:
    """One mounted filesystem and the storage stack below it."""

    mountpoint: str
    fstype: str
    source: str
    #: the directory of the filesystem mounted here ('/' unless a bind mount)
    fs_root: str = '/'
    #: kernel name of the filesystem's block device (vdb1, dm-0, vdc)
    fs_device: typing.Optional[str] = None
    lvm: typing.Optional[LogicalVolume] = None
    #: kernel name of the partition holding the filesystem or the PV
    partition: typing.Optional[str] = None
    partition_number: typing.Optional[int] = None
    #: kernel name of the whole disk (vdb, sda)
    disk: typing.Optional[str] = None
    serial: typing.Optional[str] = None
    volume_id: typing.Optional[str] = None
    disk_bytes: int = 0
    not_expandable_why: typing.Optional[str] = None

    @property
    def expandable(self) -> bool:
        return self.volume_id is not None and self.not_expandable_why is None

    @property
    def device_path(self) -> str:
        """The /dev path of the filesystem's device (for resize2fs)."""
        if self.lvm is not None:
            return self.lvm.path
        return '/dev/' + (self.fs_device or '')

    @property
    def pv_path(self) -> typing.Optional[str]:
        if self.lvm is None:
            return None
        return '/dev/' + (self.partition or self.disk or '')

    def describe_stack(self) -> str:
        """'xfs on vg0/data on vdb1 on vdb (serial 6f1c2a4e-0b8d-4c1e-9)'"""
        parts = [self.fstype]
        if self.lvm:
            parts.append('%s/%s' % (self.lvm.vg, self.lvm.lv))
        if self.partition:
            parts.append(self.partition)
        if self.disk:
            parts.append(self.disk if not self.serial
                         else '%s (serial %s)' % (self.disk, self.serial))
        return ' on '.join(parts)


@dataclasses.dataclass(frozen=True)
class MountSelector:
    """Include/exclude mountpoint patterns (fnmatch)."""

    include: typing.Sequence[str] = ()
    exclude: typing.Sequence[str] = ()

    @classmethod
    def from_conf(cls, conf) -> 'MountSelector':
        group = conf[GROUP]
        return cls(include=tuple(group.include_mounts),
                   exclude=tuple(group.exclude_mounts))

    def why_excluded(self, mountpoint: str) -> typing.Optional[str]:
        if self.include and not any(fnmatch.fnmatchcase(mountpoint, p)
                                    for p in self.include):
            return 'not in include_mounts'
        for pattern in self.exclude:
            if fnmatch.fnmatchcase(mountpoint, pattern):
                return 'excluded by pattern %r' % pattern
        return None


def _by_id_serials(roots: Roots) -> typing.Dict[str, str]:
    """{kernel disk name: id} from /dev/disk/by-id virtio/scsi names."""
    by_id = os.path.join(roots.dev, 'disk', 'by-id')
    found: typing.Dict[str, str] = {}
    try:
        names = sorted(os.listdir(by_id))
    except OSError:
        return found
    for name in names:
        for prefix in BY_ID_PREFIXES:
            if name.startswith(prefix) and '-part' not in name[len(prefix):]:
                target = os.path.basename(os.path.realpath(
                    os.path.join(by_id, name)))
                found.setdefault(target, name[len(prefix):])
    return found


def _static_map(roots: Roots, entries: typing.Iterable[str]
                ) -> typing.Dict[str, str]:
    """{kernel name: volume id} from 'disk=volume' entries."""
    mapping = {}
    for entry in entries:
        disk, sep, volume = entry.partition('=')
        if not sep:
            continue
        disk, volume = disk.strip(), volume.strip().lower()
        if disk.startswith('/dev/'):
            target = os.path.join(roots.dev, disk[len('/dev/'):])
            name = os.path.basename(os.path.realpath(target))
        else:
            name = disk
        mapping[name] = volume
    return mapping


def match_volume_id(serial: typing.Optional[str],
                    known: typing.Iterable[str]) -> typing.Optional[str]:
    """The full volume id ``serial`` abbreviates, if exactly one fits."""
    if not serial:
        return None
    serial = serial.strip().lower()
    if len(serial) < VIRTIO_SERIAL_LENGTH and len(serial) != 36:
        # Shorter serials are not Cinder ids (e.g. QEMU defaults).
        return None
    hits = {v for v in known if v.lower().startswith(serial)
            or (len(serial) > VIRTIO_SERIAL_LENGTH
                and v.lower() == serial)}
    return hits.pop() if len(hits) == 1 else None


def _source_name(sysb: blockdev.SysBlock, roots: Roots, source: str
                 ) -> typing.Optional[str]:
    """Kernel name of a mount source such as /dev/vdb or /dev/mapper/vg-lv."""
    if not source.startswith('/dev/'):
        return None
    rel = source[len('/dev/'):]
    if rel.startswith('mapper/'):
        return sysb.dm_by_name(rel[len('mapper/'):])
    base = os.path.basename(rel)
    if sysb.exists(base):
        return base
    resolved = os.path.basename(os.path.realpath(os.path.join(roots.dev, rel)))
    return resolved if sysb.exists(resolved) else None


def _describe_device(sysb, mount: Mount, name: str) -> None:
    """Fill in lvm / partition / disk for the filesystem device ``name``."""
    mount.fs_device = name
    dm_uuid = sysb.dm_uuid(name)
    if dm_uuid is not None:
        if not dm_uuid.startswith('LVM-'):
            mount.not_expandable_why = ('device-mapper target %s is not an '
                                        'LVM logical volume' % name)
            return
        dm_name = sysb.dm_name(name) or ''
        decoded = blockdev.decode_dm_name(dm_name)
        pvs = tuple(sysb.slaves(name))
        if decoded is None:
            mount.not_expandable_why = 'cannot parse LVM name %r' % dm_name
            return
        mount.lvm = LogicalVolume(vg=decoded[0], lv=decoded[1],
                                  dm_name=dm_name, pv_devices=pvs)
        if len(pvs) != 1:
            mount.not_expandable_why = (
                'logical volume %s/%s spans %d physical volumes (only '
                'single-PV volumes are grown)'
                % (decoded[0], decoded[1], len(pvs)))
            return
        name = pvs[0]
        if sysb.dm_uuid(name) is not None:
            mount.not_expandable_why = ('physical volume %s is itself a '
                                        'device-mapper device' % name)
            return
    elif name.startswith('md'):
        mount.not_expandable_why = 'MD RAID (%s) is not supported' % name
        return
    if sysb.is_partition(name):
        mount.partition = name
        mount.partition_number = sysb.partition_number(name)
        mount.disk = sysb.parent_disk(name)
    else:
        mount.disk = name


def discover(roots: Roots,
             known_volume_ids: typing.Iterable[str] = (),
             selector: typing.Optional[MountSelector] = None,
             static_volumes: typing.Iterable[str] = (),
             ) -> typing.List[Mount]:
    """Every block-backed mount, mapped as far down as it goes.

    Pseudo filesystems (no block device) and duplicate mounts of the same
    device (bind mounts) are left out; excluded mounts are left out too.
    """
    selector = selector or MountSelector()
    sysb = blockdev.SysBlock(roots.sys)
    known = set(v.lower() for v in known_volume_ids)
    static = _static_map(roots, static_volumes)
    known.update(static.values())
    by_id = None
    text = blockdev.read_text(
        os.path.join(roots.proc, 'self', 'mountinfo')) or ''
    seen_devices: typing.Dict[str, Mount] = {}
    result = []
    for info in blockdev.parse_mountinfo(text):
        if selector.why_excluded(info.mountpoint):
            continue
        name = None
        if info.major != 0:
            name = sysb.name_of_devnum(info.major, info.minor)
        if name is None:
            # btrfs reports an anonymous device number: use the source.
            name = _source_name(sysb, roots, info.source)
        if name is None:
            continue
        if name in seen_devices:
            # A bind mount or a btrfs subvolume: the filesystem is already
            # listed, and growing it once grows every view of it. Show the
            # mount of the filesystem's root if there is one.
            known = seen_devices[name]
            if info.root == '/' and known.fs_root != '/':
                known.mountpoint, known.fs_root = info.mountpoint, '/'
            continue
        mount = Mount(mountpoint=info.mountpoint, fstype=info.fstype,
                      source=info.source, fs_root=info.root)
        seen_devices[name] = mount
        result.append(mount)
        if info.fstype not in GROWABLE_FILESYSTEMS:
            mount.not_expandable_why = ('filesystem %s cannot be grown '
                                        'online' % info.fstype)
        _describe_device(sysb, mount, name)
        if mount.disk is None:
            continue
        mount.disk_bytes = sysb.size_bytes(mount.disk)
        if mount.disk in static:
            mount.volume_id = static[mount.disk]
            mount.serial = static[mount.disk][:VIRTIO_SERIAL_LENGTH]
        else:
            serial = sysb.serial(mount.disk)
            if not serial:
                if by_id is None:
                    by_id = _by_id_serials(roots)
                serial = by_id.get(mount.disk)
            mount.serial = serial
            mount.volume_id = match_volume_id(serial, known)
        if mount.volume_id is None and mount.not_expandable_why is None:
            if not mount.serial:
                mount.not_expandable_why = (
                    'disk %s has no serial: not a Cinder volume (a root '
                    'disk from an image or an ephemeral disk)' % mount.disk)
            elif len(mount.serial) < VIRTIO_SERIAL_LENGTH:
                mount.not_expandable_why = (
                    'serial %r of disk %s is not a Cinder volume id'
                    % (mount.serial, mount.disk))
            else:
                mount.not_expandable_why = (
                    'serial %r of disk %s matches no volume attached to '
                    'this server' % (mount.serial, mount.disk))
    return result


def unresolved_serials(mounts: typing.Iterable[Mount]) -> typing.Set[str]:
    """Serials that look like volume ids but matched no known id."""
    return {m.serial for m in mounts
            if m.volume_id is None and m.serial
            and len(m.serial) >= VIRTIO_SERIAL_LENGTH}


def disk_size_bytes(roots: Roots, disk: str) -> int:
    """Current capacity of ``disk`` as the kernel sees it (0 if unknown)."""
    return blockdev.SysBlock(roots.sys).size_bytes(disk)
