"""A real, loopback-only OpenStack for VSM's tests and demo, in one command.

    python -m vsm_devenv.localcloud up      # as root; 2-4 min
    python -m vsm_devenv.localcloud status
    eval "$(python -m vsm_devenv.localcloud env)"   # OS_CLIENT_CONFIG_FILE...
    python -m vsm_devenv.localcloud down

Runs RabbitMQ and MariaDB (Debian packages, started by hand), Keystone,
Placement, Nova (api, metadata, conductor, scheduler, compute with the fake
virt driver or :class:`vsm_devenv.nova_driver.QMPFakeDriver`), Cinder (api,
scheduler, volume with a fake backend and an NFS-driver-on-bind-mount backend)
and the Neutron API, from one PyPI venv, all on 127.0.0.1. Nova and Cinder are
configured as VSM needs them (notifications on the ``vsm_notifications`` topic,
access rules, metadata proxy secret). Tests attach to it with
:class:`vsm_devenv.localcloud.fixture.LocalCloud`. Full guide:
``doc/source/contributor/localcloud.rst``.

Modules, one job each:

- ``cli`` / ``__main__``: the command line;
- ``bringup``: ``up``/``down``/``status`` ordering, parallelism, timing table;
- ``install``: Debian packages and the services venv;
- ``layout``: paths under the state root, ports, fixed test secrets;
- ``config``: every service's configuration file (templates);
- ``schema``: database schema commands, run as parallel chains;
- ``services``: how each process starts and when it is ready;
- ``procs``: start/stop processes by PID (sessions), readiness polling;
- ``wsgi``: gunicorn app factory for the OpenStack APIs;
- ``keystone_setup``, ``resources``: run in the services venv to create
  accounts, catalog, limits, volume types and flavor;
- ``info``: ``$ROOT/etc/localcloud.json``, the machine-readable description;
- ``fixture``: the ``LocalCloud`` test fixture and helpers;
- ``metadata_proxy``: Neutron-style signed access to nova-metadata for one
  instance.
"""
