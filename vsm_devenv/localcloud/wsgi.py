"""WSGI application factory for serving the OpenStack APIs with gunicorn.

Used as ``gunicorn 'vsm_devenv.localcloud.wsgi:application("nova_api")'`` from
the services venv (the repo is on ``PYTHONPATH``; ``VSM_LOCALCLOUD_ROOT`` names
the state root).

Why a factory and not the projects' own WSGI modules directly: every OpenStack
WSGI module parses ``sys.argv`` with oslo.config at import time and would choke
on gunicorn's arguments, and each one finds its configuration differently. This
hides argv and points each one at ``$ROOT/etc``.
"""

import os
import sys

from vsm_devenv.localcloud.layout import Layout


def _etc():
    return Layout().etc


def _keystone():
    os.environ['OS_KEYSTONE_CONFIG_FILES'] = str(_etc() / 'keystone.conf')
    from keystone.wsgi.api import application as app

    return app


def _cinder_api():
    sys.argv += ['--config-file', str(_etc() / 'cinder' / 'cinder.conf')]
    from cinder.wsgi.api import application as app

    return app


def _placement_api():
    os.environ['OS_PLACEMENT_CONFIG_DIR'] = str(_etc() / 'placement')
    from placement.wsgi.api import application as app

    return app


def _nova(module):
    os.environ['OS_NOVA_CONFIG_DIR'] = str(_etc() / 'nova')
    # the paste file must come first: nova loads its pipeline from the first
    # file
    os.environ['OS_NOVA_CONFIG_FILES'] = 'api-paste.ini;nova.conf'
    if module == 'metadata':
        from nova.wsgi.metadata import application as app
    else:
        from nova.wsgi.osapi_compute import application as app
    return app


def _neutron_api():
    os.environ['OS_NEUTRON_CONFIG_DIR'] = str(_etc() / 'neutron')
    os.environ['OS_NEUTRON_CONFIG_FILES'] = 'neutron.conf;ml2_conf.ini'
    from neutron.wsgi.api import application as app
    from sqlalchemy import orm

    # API-only neutron: nothing touches the ORM before the first request, so
    # relationship
    # backrefs (Port.port_forwardings, ...) must be configured eagerly or GET
    # /ports fails
    orm.configure_mappers()
    return app


_APPS = {
    'keystone': _keystone,
    'cinder_api': _cinder_api,
    'placement_api': _placement_api,
    'nova_api': lambda: _nova('osapi_compute'),
    'nova_metadata': lambda: _nova('metadata'),
    'neutron_api': _neutron_api,
}


def application(name):
    """The WSGI app ``name`` (a key of ``_APPS``), configured."""
    sys.argv = sys.argv[:1]
    return _APPS[name]()
