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

"""Kernel uevents: notice a disk's capacity change the moment it happens.

When a hypervisor grows a virtio disk (libvirt blockResize, QMP
``block_resize``) the guest kernel logs "detected capacity change" and
broadcasts a uevent on the ``NETLINK_KOBJECT_UEVENT`` socket, multicast
group 1 (kernel events, before udev)::

    change@/devices/pci0000:00/0000:00:05.0/virtio2/block/vdb
    ACTION=change  DEVNAME=vdb  DEVTYPE=disk  RESIZE=1  ...

:class:`UeventListener` binds that socket (root or CAP_NET_ADMIN is not
needed for receiving kernel broadcasts) and yields the block devices whose
capacity changed, so the agent rescans at once instead of at its next
tick. Usage::

    listener = uevents.UeventListener.open()   # None if unavailable
    select.select([listener], [], [], timeout)
    for devname in listener.resized_disks():
        ...

Without the socket (containers, tests) the agent falls back to periodic
rescans of /sys/class/block/*/size; nothing else changes.
"""

import logging
import socket
import typing

LOG = logging.getLogger(__name__)

NETLINK_KOBJECT_UEVENT = 15
KERNEL_GROUP = 1


def parse_uevent(data: bytes) -> typing.Dict[str, str]:
    """Parse one kernel uevent datagram into its KEY=value environment."""
    parts = data.split(b'\0')
    env = {}
    if parts and b'@' in parts[0] and b'=' not in parts[0]:
        env['HEADER'] = parts[0].decode('utf-8', 'replace')
        parts = parts[1:]
    for part in parts:
        key, sep, value = part.partition(b'=')
        if sep:
            env[key.decode('utf-8', 'replace')] = value.decode(
                'utf-8', 'replace')
    return env


def is_capacity_change(env: typing.Mapping[str, str]) -> bool:
    return (env.get('ACTION') == 'change' and env.get('RESIZE') == '1'
            and env.get('SUBSYSTEM', 'block') == 'block')


class UeventListener:
    """A non-blocking kernel uevent socket."""

    def __init__(self, sock: socket.socket):
        self._sock = sock

    @classmethod
    def open(cls) -> typing.Optional['UeventListener']:
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM,
                                 NETLINK_KOBJECT_UEVENT)
            sock.bind((0, KERNEL_GROUP))
            sock.setblocking(False)
        except (OSError, AttributeError) as exc:
            LOG.info('Kernel uevents unavailable (%s): capacity changes '
                     'are noticed by periodic rescans only', exc)
            return None
        return cls(sock)

    def fileno(self) -> int:
        return self._sock.fileno()

    def resized_disks(self) -> typing.List[str]:
        """Drain the socket; the DEVNAMEs whose capacity changed."""
        names = []
        while True:
            try:
                data = self._sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                # ENOBUFS: events were lost; the caller rescans anyway.
                LOG.debug('uevent socket: %s', exc)
                names.append('')
                break
            env = parse_uevent(data)
            if is_capacity_change(env):
                names.append(env.get('DEVNAME', ''))
        return names

    def close(self) -> None:
        self._sock.close()
