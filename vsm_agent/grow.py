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

"""The grow pipeline: take a filesystem up to its disk's new size, online.

After the hypervisor grows a disk (the guest sees a capacity change), the
layers above it are grown bottom-up, each with the standard tool, each
step a no-op when there is nothing to do::

    1. partition   growpart --dry-run <disk> <n>; then growpart <disk> <n>
                   (exit 1 "NOCHANGE" is fine: already at the end)
    2. LVM         pvresize <pv>; lvextend -l +100%FREE <vg>/<lv>
                   (only when the VG has free extents)
    3. filesystem  ext2/3/4: resize2fs <device>
                   xfs:      xfs_growfs <mountpoint>
                   btrfs:    btrfs filesystem resize max <mountpoint>
    4. verify      statvfs: the filesystem is larger than before

The table :data:`FILESYSTEM_GROWERS` maps filesystem types to commands,
as cloud-init's ``cc_resizefs`` does.

Safety, which is the point of this module:

* It only grows. growpart moves a partition's end to the end of the disk,
  never inward; ``lvextend -l +100%FREE`` only adds extents; resize2fs,
  xfs_growfs and ``btrfs ... resize max`` without a size grow to the
  device, and the kernel refuses online shrinking anyway. A filesystem is
  only touched when its disk is larger than the size recorded before.
* It never touches a disk discovery did not map to a Cinder volume
  (:func:`plan` refuses a mount without a ``volume_id``).
* Every step is idempotent and leaves data intact when it fails: a failed
  growpart leaves the old partition table (growpart itself restores it),
  a failed pvresize/lvextend changes no extents, a failed filesystem grow
  leaves the filesystem at its old size. The caller retries the whole
  pipeline (completed steps are then no-ops) and reports the failing step.

Use it like this::

    result = grow.grow(mount, runner=grow.run_command)
    result.ok, result.changed, result.failed_step, result.new_size_bytes
"""

import dataclasses
import json
import logging
import os
import subprocess
import typing

LOG = logging.getLogger(__name__)

#: fs type -> argv template; {device} / {mountpoint} are filled in.
FILESYSTEM_GROWERS = {
    'ext2': ('resize2fs', '{device}'),
    'ext3': ('resize2fs', '{device}'),
    'ext4': ('resize2fs', '{device}'),
    'xfs': ('xfs_growfs', '{mountpoint}'),
    'btrfs': ('btrfs', 'filesystem', 'resize', 'max', '{mountpoint}'),
}

#: growpart exit codes (cloud-utils).
GROWPART_CHANGED, GROWPART_NOCHANGE = 0, 1

#: A runner takes argv and returns (exit code, combined output).
Runner = typing.Callable[[typing.Sequence[str]], typing.Tuple[int, str]]


def run_command(argv: typing.Sequence[str], timeout: float = 300.0
                ) -> typing.Tuple[int, str]:
    """Run one grow command; never raises for a failing command."""
    env = dict(os.environ, LC_ALL='C', LVM_SUPPRESS_FD_WARNINGS='1')
    try:
        proc = subprocess.run(list(argv), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout,
                              env=env, check=False)
    except FileNotFoundError:
        return 127, '%s: command not found' % argv[0]
    except subprocess.TimeoutExpired:
        return 124, '%s: timed out after %ds' % (argv[0], timeout)
    return proc.returncode, proc.stdout.decode('utf-8', 'replace').strip()


@dataclasses.dataclass
class StepResult:
    name: str
    argv: typing.Tuple[str, ...]
    returncode: int
    output: str
    changed: bool
    ok: bool


@dataclasses.dataclass
class GrowResult:
    ok: bool
    changed: bool
    old_size_bytes: int
    new_size_bytes: int
    steps: typing.List[StepResult] = dataclasses.field(default_factory=list)
    failed_step: typing.Optional[str] = None
    error: typing.Optional[str] = None

    def summary(self) -> str:
        if not self.ok:
            return 'failed at %s: %s' % (self.failed_step, self.error)
        if not self.changed:
            return 'nothing to grow (already at the disk size)'
        return 'grown from %d to %d bytes' % (self.old_size_bytes,
                                              self.new_size_bytes)


class GrowRefused(ValueError):
    """The mount must not be grown (not mapped, unsupported)."""


def plan(mount) -> typing.List[typing.Tuple[str, typing.Tuple[str, ...]]]:
    """The (step name, argv) list for ``mount``; raises GrowRefused."""
    if not mount.volume_id:
        raise GrowRefused('%s is not on a disk mapped to a Cinder volume'
                          % mount.mountpoint)
    if mount.not_expandable_why:
        raise GrowRefused(mount.not_expandable_why)
    if mount.fstype not in FILESYSTEM_GROWERS:
        raise GrowRefused('no online grow for filesystem %s' % mount.fstype)
    steps = []
    if mount.partition:
        steps.append(('growpart', ('growpart', '/dev/' + mount.disk,
                                   str(mount.partition_number))))
    if mount.lvm is not None:
        steps.append(('pvresize', ('pvresize', mount.pv_path)))
        steps.append(('lvextend', ('lvextend', '-l', '+100%FREE',
                                   mount.lvm.path)))
    fields = {'device': mount.device_path, 'mountpoint': mount.mountpoint}
    steps.append(('filesystem', tuple(
        part.format(**fields) for part in FILESYSTEM_GROWERS[mount.fstype])))
    return steps


def _vg_free_extents(vg: str, runner: Runner) -> typing.Optional[int]:
    rc, out = runner(('vgs', '--reportformat', 'json', '--units', 'b',
                      '-o', 'vg_free_count', vg))
    if rc != 0:
        return None
    try:
        # lvm prints warnings before the JSON on some setups.
        report = json.loads(out[out.index('{'):])
        return int(report['report'][0]['vg'][0]['vg_free_count'])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def grow(mount, runner: Runner = run_command,
         statvfs=os.statvfs) -> GrowResult:
    """Grow ``mount`` to fill its (already larger) disk; never raises."""

    def fs_size():
        st = statvfs(mount.mountpoint)
        return st.f_blocks * st.f_frsize

    try:
        old = fs_size()
    except OSError as exc:
        return GrowResult(False, False, 0, 0, failed_step='statvfs',
                          error=str(exc))
    try:
        steps = plan(mount)
    except GrowRefused as exc:
        return GrowResult(False, False, old, old, failed_step='plan',
                          error=str(exc))
    result = GrowResult(True, False, old, old)
    for name, argv in steps:
        if name == 'growpart':
            rc, out = runner(('growpart', '--dry-run') + argv[1:])
            if rc == GROWPART_NOCHANGE:
                result.steps.append(StepResult(name, argv, rc, out, False,
                                               True))
                continue
            if rc != GROWPART_CHANGED:
                return _fail(result, name, argv, rc, out)
        if name == 'lvextend':
            free = _vg_free_extents(mount.lvm.vg, runner)
            if free == 0:
                result.steps.append(StepResult(name, argv, 0,
                                               'no free extents', False,
                                               True))
                continue
        rc, out = runner(argv)
        if name == 'growpart' and rc == GROWPART_NOCHANGE:
            result.steps.append(StepResult(name, argv, rc, out, False, True))
            continue
        if rc != 0:
            return _fail(result, name, argv, rc, out)
        result.steps.append(StepResult(name, argv, rc, out, True, True))
        LOG.info('Grow %s: %s ok', mount.mountpoint, ' '.join(argv))
    try:
        new = fs_size()
    except OSError as exc:
        return _fail(result, 'verify', ('statvfs', mount.mountpoint), 1,
                     str(exc))
    result.new_size_bytes = new
    result.changed = new > old
    return result


def _fail(result: GrowResult, name, argv, rc, out) -> GrowResult:
    result.steps.append(StepResult(name, tuple(argv), rc, out, False, False))
    result.ok = False
    result.failed_step = name
    result.error = 'exit %d: %s' % (rc, (out or '').splitlines()[-1:]
                                    and out.splitlines()[-1][:200] or '')
    LOG.warning('Grow step %s failed (%s); data is untouched, will retry',
                name, result.error)
    return result
