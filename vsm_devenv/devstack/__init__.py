"""A real DevStack with VSM's plugin, in a container, for the test tier.

``tox -e devstack`` (``vsm_tests/devstack``) proves ``devstack/`` the way a
developer uses it: DevStack's own ``stack.sh``, with ``enable_plugin vsm``
pointing at this checkout, in a ``systemd-nspawn`` container that has its
own systemd, network namespace and user-mode network. Then, as the demo
tenant, a volume attached to a server is grown by the listener the plugin
started, and ``unstack.sh`` must stop VSM's units.

Modules, in the order a run uses them:

``snapshots``  where the source snapshots are (``$VSM_DEVSTACK_SRC``)
``rootfs``     host tools, the cached Debian base, the container tree, the
               git repositories DevStack clones
``container``  systemd-nspawn and slirp4netns, started and stopped by PID
``localconf``  the measured ``local.conf``
``run``        the phases, their timings and the memory peaks

By hand (root; the report prints phase timings and memory)::

    python -m vsm_devenv.devstack          # stack.sh, unstack.sh, remove
"""
