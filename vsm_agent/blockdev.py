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

"""The kernel's view of mounts and block devices, read from files only.

:mod:`vsm_agent.discovery` ties mounts to Cinder volumes; this module
holds the reads it builds on: ``/proc/self/mountinfo`` parsing, LVM's
device-mapper names, and :class:`SysBlock`, the ``/sys/class/block``
attributes of one device (partition, parent disk, size, serial, dm
uuid/name, slaves and holders). Every root is a parameter, so fixture
trees stand in for ``/proc`` and ``/sys`` in tests::

    sysb = blockdev.SysBlock('/sys')
    sysb.serial('vdb')          # '6f1c2a4e-0b8d-4c1e-9'
    blockdev.parse_mountinfo(open('/proc/self/mountinfo').read())
"""

import dataclasses
import os
import typing


@dataclasses.dataclass(frozen=True)
class MountInfo:
    """One parsed line of /proc/self/mountinfo."""

    major: int
    minor: int
    root: str
    mountpoint: str
    fstype: str
    source: str


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo octal.
    if '\\' not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == '\\' and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return ''.join(out)


def parse_mountinfo(text: str) -> typing.List[MountInfo]:
    """Parse /proc/self/mountinfo; lines that do not parse are skipped."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        try:
            sep = fields.index('-', 6)
            major, minor = fields[2].split(':')
            mounts.append(MountInfo(
                major=int(major), minor=int(minor),
                root=_unescape(fields[3]), mountpoint=_unescape(fields[4]),
                fstype=fields[sep + 1], source=_unescape(fields[sep + 2])))
        except (ValueError, IndexError):
            continue
    return mounts


def read_text(path: str) -> typing.Optional[str]:
    """A sysfs/procfs file's stripped text, or ``None`` if unreadable."""
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def decode_dm_name(dm_name: str) -> typing.Optional[typing.Tuple[str, str]]:
    """Split a device-mapper LVM name 'vg--a-lv' into ('vg-a', 'lv').

    LVM doubles every '-' inside VG and LV names and joins them with one.
    """
    i = 0
    while i < len(dm_name):
        if dm_name[i] == '-':
            if i + 1 < len(dm_name) and dm_name[i + 1] == '-':
                i += 2
                continue
            vg, lv = dm_name[:i], dm_name[i + 1:]
            if not vg or not lv:
                return None
            return vg.replace('--', '-'), lv.replace('--', '-')
        i += 1
    return None


class SysBlock:
    """Reads of /sys/class/block/<name> under ``sys_root``."""

    def __init__(self, sys_root: str):
        self.sys_root = sys_root

    def path(self, name: str, *rest: str) -> str:
        return os.path.join(self.sys_root, 'class', 'block', name, *rest)

    def exists(self, name: str) -> bool:
        return bool(name) and os.path.exists(self.path(name))

    def name_of_devnum(self, major: int, minor: int) -> typing.Optional[str]:
        link = os.path.join(self.sys_root, 'dev', 'block',
                            '%d:%d' % (major, minor))
        if not os.path.exists(link):
            return None
        return os.path.basename(os.path.realpath(link))

    def is_partition(self, name: str) -> bool:
        return os.path.exists(self.path(name, 'partition'))

    def partition_number(self, name: str) -> typing.Optional[int]:
        text = read_text(self.path(name, 'partition'))
        return int(text) if text and text.isdigit() else None

    def parent_disk(self, name: str) -> str:
        # /sys/class/block/vdb1 -> .../block/vdb/vdb1: the parent directory
        # is the disk.
        return os.path.basename(os.path.dirname(
            os.path.realpath(self.path(name))))

    def size_bytes(self, name: str) -> int:
        text = read_text(self.path(name, 'size'))
        # sysfs sizes are in 512-byte sectors whatever the logical block size
        return int(text) * 512 if text and text.isdigit() else 0

    def serial(self, name: str) -> typing.Optional[str]:
        for rel in (('serial',), ('device', 'serial')):
            text = read_text(self.path(name, *rel))
            if text:
                return text
        return None

    def dm_uuid(self, name: str) -> typing.Optional[str]:
        return read_text(self.path(name, 'dm', 'uuid'))

    def dm_name(self, name: str) -> typing.Optional[str]:
        return read_text(self.path(name, 'dm', 'name'))

    def slaves(self, name: str) -> typing.List[str]:
        try:
            return sorted(os.listdir(self.path(name, 'slaves')))
        except OSError:
            return []

    def holders(self, name: str) -> typing.List[str]:
        try:
            return sorted(os.listdir(self.path(name, 'holders')))
        except OSError:
            return []

    def dm_by_name(self, dm_name: str) -> typing.Optional[str]:
        base = os.path.join(self.sys_root, 'class', 'block')
        try:
            names = os.listdir(base)
        except OSError:
            return None
        for name in names:
            if name.startswith('dm-') and self.dm_name(name) == dm_name:
                return name
        return None
