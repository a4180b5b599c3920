"""Data disks for the test guest: what to attach, and host-side image helpers.

A :class:`DataDisk` becomes, on the QEMU command line, the same thing libvirt
makes of an attached Cinder volume::

    -blockdev driver=file,filename=<image>,node-name=<node>-file
    -blockdev driver=<raw|qcow2>,file=<node>-file,node-name=<node>
    -device virtio-blk-pci,drive=<node>,serial=<serial>

so ``block_resize`` on ``node_name`` is what Nova's libvirt driver does on a
'volume-extended' event, and the guest sees ``/sys/block/vdX/serial`` ==
``serial[:20]`` (a Cinder volume id's first 20 characters).

Host-side helpers make images without root, loop devices or mounts:
:func:`create_image` (empty, sparse, via qemu-img) and :func:`make_filesystem_image`
(optional GPT + one partition + ext4/xfs/btrfs, the filesystem made in a side file
and copied in at the partition offset). LVM cannot be made on the host here (no
device-mapper): use ``Guest.prepare_disk`` for that (see :mod:`.layouts`).
"""
import dataclasses
import json
import os
import re
import subprocess

MiB = 1 << 20
GiB = 1 << 30

# QEMU limits node names to 31 chars; the harness adds '-file' for the protocol node.
_NODE_RE = re.compile(r'^[A-Za-z][A-Za-z0-9_.-]{0,25}$')


@dataclasses.dataclass
class DataDisk:
    """One virtio-blk data disk.

    :param size_bytes: initial virtual size (ignored when ``path`` is an existing image)
    :param serial: virtio serial; the guest sees its first 20 characters
    :param fmt: image format, ``'raw'`` or ``'qcow2'``
    :param node_name: QMP block node to resize (default: derived from the serial)
    :param path: use this existing image instead of creating one in the guest's workdir
        (it is not deleted at shutdown)
    """

    size_bytes: int
    serial: str
    fmt: str = 'raw'
    node_name: str = None
    path: str = None

    def __post_init__(self):
        if self.fmt not in ('raw', 'qcow2'):
            raise ValueError('DataDisk.fmt must be raw or qcow2, not %r' % self.fmt)
        if not self.serial or ',' in self.serial:
            raise ValueError('DataDisk.serial must be non-empty and contain no comma')
        if self.node_name is None:
            self.node_name = 'd-' + re.sub(r'[^A-Za-z0-9_.-]', '_', self.serial)[:20]
        if not _NODE_RE.match(self.node_name):
            raise ValueError('invalid QMP node name %r (letter first, <= 26 chars of '
                             '[A-Za-z0-9_.-])' % self.node_name)

    @property
    def guest_serial(self):
        """What the guest reads from /sys/block/vdX/serial."""
        return self.serial[:20]


def _run(cmd):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)


def create_image(path, size_bytes, fmt='raw'):
    """Create an empty sparse image of ``size_bytes`` (qemu-img create)."""
    _run(['qemu-img', 'create', '-q', '-f', fmt, path, str(int(size_bytes))])
    return path


def image_virtual_size(path):
    """Virtual size in bytes of an image (qemu-img info; works for raw and qcow2)."""
    out = _run(['qemu-img', 'info', '--output=json', '-U', path]).stdout
    return json.loads(out)['virtual-size']


_MKFS = {
    'ext4': ['mkfs.ext4', '-q', '-F', '-L'],
    'xfs': ['mkfs.xfs', '-q', '-f', '-L'],
    'btrfs': ['mkfs.btrfs', '-q', '-f', '-L'],
}


def make_filesystem_image(path, size_bytes, fstype, partitioned=True, fmt='raw', label='data'):
    """Make a disk image holding one filesystem, on a GPT partition or the whole disk.

    No root needed: sfdisk writes the table into the file, mkfs runs on a side
    file, and the result is copied (sparsely) to the partition's offset. XFS needs
    at least 300 MiB. Returns ``path``.
    """
    if fstype not in _MKFS:
        raise ValueError('fstype must be one of %s' % sorted(_MKFS))
    raw = path if fmt == 'raw' else path + '.raw'
    with open(raw, 'wb') as f:
        f.truncate(int(size_bytes))
    if partitioned:
        subprocess.run(['sfdisk', '-q', raw], input='label: gpt\n,,L\n', text=True, check=True,
                       stdout=subprocess.DEVNULL)
        part = json.loads(_run(['sfdisk', '-J', raw]).stdout)['partitiontable']['partitions'][0]
        side = raw + '.part'
        with open(side, 'wb') as f:
            f.truncate(part['size'] * 512)
        try:
            _run(_MKFS[fstype] + [label, side])
            _run(['dd', 'if=' + side, 'of=' + raw, 'bs=1M', 'seek=%d' % (part['start'] * 512),
                  'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none'])
        finally:
            os.unlink(side)
    else:
        _run(_MKFS[fstype] + [label, raw])
    if fmt != 'raw':
        _run(['qemu-img', 'convert', '-q', '-O', fmt, raw, path])
        os.unlink(raw)
    return path
