"""Command line for the QEMU test guest.

    python -m vsm_devenv.guest build [--force] [--pip PKG ...]   build or reuse the cached image
    python -m vsm_devenv.guest boot [--disk SIZE:SERIAL[:FMT]] ... [--shell]
        boot a guest with the repo shared at /opt/vsm; without --shell it waits for the
        control agent, prints the QMP socket and console log paths and stays up until ^C.
    python -m vsm_devenv.guest run -- CMD ...     boot, run one command in the guest, power off

Environment: VSM_GUEST_CACHE (image cache directory, default /var/tmp/vsm-guest-cache).
"""
import argparse
import json
import os
import sys
import time

from vsm_devenv.guest import build


def _mib(n):
    return '%.1f MiB' % (n / 1048576.0)


def cmd_build(a):
    pips = tuple(a.pip) if a.pip else build.DEFAULT_PIP_PACKAGES
    image = build.ensure_image(pip_packages=pips, force=a.force)
    m = image.manifest
    sizes = m['sizes']
    print('kernel:     %s (%s, %s)' % (image.kernel, m['kernel_package'],
                                       _mib(sizes['vmlinuz'])))
    print('initramfs:  %s (%s, uncompressed cpio)' % (image.initramfs,
                                                      _mib(sizes['initramfs'])))
    print('key:        %s%s' % (image.key, ' (from cache)' if m['cached'] else ''))
    print('build time: %.2fs%s' % (m['elapsed_s'], '' if m['cached'] else
                                   ' (steps: %s)' % json.dumps(m['steps_s'])))
    return 0


def _disks(specs):
    from vsm_devenv.guest.disks import DataDisk
    out = []
    for spec in specs:
        parts = spec.split(':')
        size = parts[0]
        mult = {'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30}.get(size[-1:].upper(), 1)
        n = int(size[:-1] if mult > 1 else size) * mult
        out.append(DataDisk(n, parts[1] if len(parts) > 1 else 'vsm-disk-%d' % len(out),
                            fmt=parts[2] if len(parts) > 2 else 'raw'))
    return out


def _repo_root():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cmd_boot(a):
    from vsm_devenv.guest.harness import Guest
    if a.shell:
        guest = Guest(disks=_disks(a.disk), share=_repo_root(), memory_mb=a.memory)
        guest.create_disk_images()
        print('work dir: %s (not removed)' % guest.workdir)
        os.execvp('qemu-system-x86_64', guest.qemu_command(interactive=True))
    with Guest(disks=_disks(a.disk), share=_repo_root(), memory_mb=a.memory) as guest:
        print('guest ready in %.1fs' % guest.boot_seconds)
        print('workdir:       %s' % guest.workdir)
        print('QMP socket:    %s' % guest.qmp_socket_path)
        print('console log:   %s' % guest.console_log_path)
        try:
            while guest.is_running():
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


def cmd_run(a):
    from vsm_devenv.guest.harness import Guest
    argv = a.argv[1:] if a.argv[:1] == ['--'] else a.argv
    with Guest(disks=_disks(a.disk), share=_repo_root(), memory_mb=a.memory) as guest:
        res = guest.exec(argv, check=False, timeout=a.timeout)
        sys.stdout.write(res.stdout)
        sys.stderr.write(res.stderr)
        return res.rc


def main(argv=None):
    ap = argparse.ArgumentParser(prog='python -m vsm_devenv.guest', description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    b = sub.add_parser('build', help='build (or reuse) the cached guest image')
    b.add_argument('--force', action='store_true', help='rebuild even if cached')
    b.add_argument('--pip', action='append', help='pip requirement for the image (repeatable; '
                   'default: %s)' % ' '.join(build.DEFAULT_PIP_PACKAGES))
    b.set_defaults(fn=cmd_build)
    for name, fn in (('boot', cmd_boot), ('run', cmd_run)):
        p = sub.add_parser(name)
        p.add_argument('--disk', action='append', default=[], metavar='SIZE:SERIAL[:FMT]')
        p.add_argument('--memory', type=int, default=384, help='MiB')
        if name == 'boot':
            p.add_argument('--shell', action='store_true',
                           help='interactive shell on the serial console (no control agent)')
        else:
            p.add_argument('--timeout', type=float, default=300)
            p.add_argument('argv', nargs=argparse.REMAINDER)
        p.set_defaults(fn=fn)
    a = ap.parse_args(argv)
    return a.fn(a)


if __name__ == '__main__':
    sys.exit(main())
