"""Developer environment tooling for VSM (test-only).

Never imported by ``vsm_agent`` or ``vsm_authz``, and not installed by
``pip install`` of VSM: run it from the checkout (``python -m
vsm_devenv.localcloud``), as ``tox`` and ``tools/`` do.

- :mod:`vsm_devenv.localcloud` brings a loopback-only OpenStack (RabbitMQ,
  MariaDB, Keystone, Placement, Nova, Cinder, Neutron API) up and down for
  functional tests and the demo, and ships the ``LocalCloud`` test fixture.
- :mod:`vsm_devenv.nova_driver` is a test-only Nova compute driver that turns
  Nova's ``extend_volume`` into a QMP ``block_resize`` of a QEMU test guest's
  disk.
"""
