"""In-guest storage layouts the VSM agent must grow, as plain shell recipes.

Each :class:`Layout` knows how to lay itself out on an empty disk and mount it
(:func:`prepare_script`), how to grow itself online by hand after the disk grew
(:func:`grow_script`: the reference sequence the agent automates) and how to check
it read-only after unmount (:func:`check_script`). ``Guest.prepare_disk`` runs the
first one and returns a :class:`PreparedDisk`.

=============  ===========================================================  ======================
layout         stack                                                        grow by hand
=============  ===========================================================  ======================
ext4-part      GPT, partition 1, ext4                                       growpart; resize2fs
xfs-part       GPT, partition 1, XFS                                        growpart; xfs_growfs
ext4-whole     ext4 on the unpartitioned disk                               resize2fs
xfs-lvm        GPT, partition 1 (LVM type) = PV -> VG -> LV 100%, XFS       growpart; pvresize;
                                                                            lvextend; xfs_growfs
btrfs-whole    btrfs on the unpartitioned disk                              btrfs fi resize max
btrfs-part     GPT, partition 1, btrfs                                      growpart; btrfs fi
                                                                            resize max
=============  ===========================================================  ======================

growpart exits 0 when it grew the partition, 1 for NOCHANGE (fine), 2 on failure.
XFS needs a filesystem of at least 300 MiB (xfsprogs 6.x).
"""
import dataclasses
import re
import shlex


@dataclasses.dataclass(frozen=True)
class Layout:
    name: str
    fstype: str
    partitioned: bool
    lvm: bool = False


LAYOUTS = {lay.name: lay for lay in (
    Layout('ext4-part', 'ext4', True),
    Layout('xfs-part', 'xfs', True),
    Layout('ext4-whole', 'ext4', False),
    Layout('xfs-lvm', 'xfs', True, lvm=True),
    Layout('btrfs-whole', 'btrfs', False),
    Layout('btrfs-part', 'btrfs', True),
)}

#: the five layouts the agent must handle (btrfs-part is an extra)
CORE_LAYOUTS = ('ext4-part', 'xfs-part', 'ext4-whole', 'xfs-lvm', 'btrfs-whole')


@dataclasses.dataclass(frozen=True)
class PreparedDisk:
    """A laid-out, mounted disk in the guest.

    ``disk`` is the whole device (/dev/vdX), ``partition`` the partition or None,
    ``fs_device`` the block device holding the filesystem (partition, disk or
    /dev/mapper/<vg>-<lv>), ``vg``/``lv`` set for LVM layouts.
    """

    layout: Layout
    serial: str
    disk: str
    partition: str
    fs_device: str
    mountpoint: str
    vg: str = None
    lv: str = None


def get_layout(name):
    try:
        return LAYOUTS[name]
    except KeyError:
        raise ValueError('unknown layout %r; known: %s' % (name, ', '.join(LAYOUTS))) from None


def plan(layout, serial, disk, mountpoint):
    """The PreparedDisk that :func:`prepare_script` will produce (names only, no I/O)."""
    layout = get_layout(layout) if isinstance(layout, str) else layout
    part = None
    if layout.partitioned:
        # /dev/vdb -> /dev/vdb1, /dev/nvme0n1 -> /dev/nvme0n1p1
        part = disk + ('p1' if disk[-1].isdigit() else '1')
    vg = lv = None
    fs_device = part or disk
    if layout.lvm:
        vg = 'vg_' + re.sub(r'[^A-Za-z0-9_]', '_', serial)[:40]
        lv = 'data'
        fs_device = '/dev/mapper/%s-%s' % (vg, lv)
    return PreparedDisk(layout, serial, disk, part, fs_device, mountpoint, vg, lv)


def prepare_script(p):
    """Shell script: partition (GPT), LVM, mkfs, mount on ``p.mountpoint``."""
    q = shlex.quote
    lines = ['set -e', 'wipefs -a -q %s' % q(p.disk)]
    if p.layout.partitioned:
        ptype = 'V' if p.layout.lvm else 'L'    # sfdisk aliases: V = Linux LVM, L = Linux fs
        lines.append("printf 'label: gpt\\n,,%s\\n' | sfdisk -q %s" % (ptype, q(p.disk)))
        lines.append('for i in $(seq 50); do [ -b %s ] && break; sleep 0.1; done'
                     % q(p.partition))
    if p.layout.lvm:
        lines += ['pvcreate -q -y %s' % q(p.partition),
                  'vgcreate -q %s %s' % (q(p.vg), q(p.partition)),
                  'lvcreate -q -y -l 100%%FREE -n %s %s' % (q(p.lv), q(p.vg))]
    mkfs = {'ext4': 'mkfs.ext4 -q -F', 'xfs': 'mkfs.xfs -q -f', 'btrfs': 'mkfs.btrfs -q -f'}
    lines += ['%s -L vsmdata %s' % (mkfs[p.layout.fstype], q(p.fs_device)),
              'mkdir -p %s' % q(p.mountpoint),
              'mount -t %s %s %s' % (p.layout.fstype, q(p.fs_device), q(p.mountpoint))]
    return '\n'.join(lines) + '\n'


def grow_script(p):
    """Shell script: grow partition/PV/LV/filesystem online to fill the (grown) disk."""
    q = shlex.quote
    lines = ['set -e']
    if p.layout.partitioned:
        lines.append('rc=0; growpart %s 1 || rc=$?; [ $rc -le 1 ]' % q(p.disk))
    if p.layout.lvm:
        lines += ['pvresize -q %s' % q(p.partition),
                  # lvextend refuses a +0 extension: only extend when the VG has free extents
                  'if [ "$(vgs --noheadings -o vg_free_count %s | tr -d \' \')" -gt 0 ]; then '
                  'lvextend -q -l +100%%FREE %s/%s; fi' % (q(p.vg), q(p.vg), q(p.lv))]
    fs = p.layout.fstype
    if fs == 'ext4':
        lines.append('resize2fs %s' % q(p.fs_device))
    elif fs == 'xfs':
        lines.append('xfs_growfs %s' % q(p.mountpoint))
    else:
        lines.append('btrfs filesystem resize max %s' % q(p.mountpoint))
    return '\n'.join(lines) + '\n'


def check_script(p):
    """Shell script: read-only consistency check of the (unmounted) filesystem."""
    dev = shlex.quote(p.fs_device)
    return {'ext4': 'e2fsck -fn %s', 'xfs': 'xfs_repair -n %s',
            'btrfs': 'btrfs check --readonly %s'}[p.layout.fstype] % dev + '\n'
