"""A real Linux guest under QEMU (TCG) for VSM's functional tests. Test-only tooling.

Modules, one job each:

- :mod:`.build`    builds (or reuses from ``$VSM_GUEST_CACHE``) the guest image: a Debian
  kernel + an initramfs that is the whole root fs (busybox, Debian python3.11, growpart,
  e2fsprogs, xfsprogs, btrfs-progs, lvm2, the agent's pip dependencies).
- ``files/init``, ``files/control_agent.py``  PID 1 and the in-guest control agent.
- :mod:`.harness`  ``Guest``: boot, run commands, resize disks over QMP, watch uevents,
  lay out disks. :mod:`.fixture`: ``GuestFixture`` for testtools/fixtures tests.
- :mod:`.disks`    ``DataDisk`` and host-side image helpers; :mod:`.layouts` the in-guest
  storage layouts (ext4/XFS on GPT, ext4 whole disk, XFS on LVM, btrfs).
- :mod:`.qmp`, :mod:`.control`  the two wire protocols (QMP, control channel).
- :mod:`.writer`   a paced writer that fills a guest filesystem (runs in the guest).

CLI: ``python -m vsm_devenv.guest build|boot|run``. Docs: doc/source/contributor/guest.rst.
"""
