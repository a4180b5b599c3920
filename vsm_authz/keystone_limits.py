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

"""Keystone unified limits for VSM, through oslo.limit.

What is limited: the resource ``[unified_limits] resource_name`` (default
``vsm_storage_gigabytes``) is the **total size in GiB of all the
project's Cinder volumes** — VSM-managed or not — as Cinder reports them.
A grant of ``delta`` GiB is allowed while ``usage + delta <= limit``,
where the limit is the project's own Keystone limit or else the
registered (default) limit of service ``vsm`` in the region. It is a cap
the cloud/tenant admins set in Keystone on top of Cinder's own quotas,
which still apply (see :class:`vsm_authz.rules.quota.CinderQuotaRule`).

Usage::

    from vsm_authz import keystone_limits

    checker = keystone_limits.LimitChecker(conf)  # [unified_limits], and
                                                  # [oslo_limit] of cfg.CONF
    try:
        checker.check(project_id, current_usage_gb=30, delta_gb=5)
    except keystone_limits.OverLimit as exc:      # exc.limit, .usage, .delta
        ...
    except keystone_limits.LimitNotRegistered:    # unknown to Keystone
        ...
    except keystone_limits.LimitServiceUnavailable:  # Keystone down or
        ...                                       # misconfigured: retry
    checker.get_limit(project_id)       # int, -1 unlimited, None when the
                                        # resource is unregistered

Keystone side (``vsm-manage bootstrap`` does all of it): a service of
type ``vsm`` with an endpoint in the region (oslo.limit finds the limits
through it), the registered limit, and a service user with **system
reader**. The ``[oslo_limit]`` section holds that user's keystoneauth
options (``system_scope = all``) and ``endpoint_id`` or
``endpoint_service_type`` + ``endpoint_region_name``.

Gotchas this wrapper handles:

- oslo.limit counts an unregistered resource as limit 0 and would deny
  everything silently; :meth:`LimitChecker.check` detects it and raises
  :class:`LimitNotRegistered` naming the fix.
- oslo.limit reads ``[oslo_limit]`` from the **global** ``cfg.CONF``
  (only that), so the service must load its config files into
  ``cfg.CONF``.
- A cached ``Enforcer`` never sees limit changes; this wrapper rebuilds
  it every ``cache_seconds`` (one endpoint lookup + one model query).
- The usage is the caller's: oslo.limit's usage callback returns the
  figure passed to :meth:`check` (kept per thread), so the decision and
  the check use the same Cinder numbers.
"""

import threading
import time

from keystoneauth1 import exceptions as ksa_exceptions
from openstack import exceptions as sdk_exceptions
from oslo_limit import exception as limit_exceptions
from oslo_limit import limit as oslo_limit
from oslo_log import log as logging

LOG = logging.getLogger(__name__)


class OverLimit(Exception):
    """The grant would take the project over its limit."""

    def __init__(self, project_id, resource_name, limit, usage, delta):
        self.project_id, self.resource_name = project_id, resource_name
        self.limit, self.usage, self.delta = limit, usage, delta
        super().__init__(
            'project %s over its %s limit of %d GiB: usage %d + %d GiB'
            % (project_id, resource_name, limit, usage, delta))

    @property
    def headroom(self) -> int:
        return max(self.limit - self.usage, 0)


class LimitNotRegistered(Exception):
    """Keystone has no registered limit for the resource."""

    def __init__(self, resource_name):
        self.resource_name = resource_name
        super().__init__(
            'resource %s is not registered in Keystone for service vsm; '
            'run vsm-manage bootstrap' % resource_name)


class LimitServiceUnavailable(Exception):
    """Keystone could not be asked (down, bad credentials, no endpoint):
    a transient condition for the caller — retry, do not deny."""


# Failures talking to Keystone. ValueError is what oslo.limit raises when
# it cannot find its endpoint/service/region.
_KEYSTONE_ERRORS = (ksa_exceptions.ClientException,
                    sdk_exceptions.SDKException,
                    limit_exceptions.SessionInitError, ValueError)


class LimitChecker:
    """A thread-safe wrapper of ``oslo_limit.limit.Enforcer`` for one
    resource. ``enforcer_factory(usage_callback)`` is for tests."""

    def __init__(self, conf, enforcer_factory=None):
        self.resource_name = conf.unified_limits.resource_name
        self._cache_seconds = conf.unified_limits.cache_seconds
        self._factory = enforcer_factory or self._make_enforcer
        self._usage = threading.local()
        self._lock = threading.Lock()
        self._enforcer = None
        self._built_at = 0.0

    def _make_enforcer(self, usage_callback):
        return oslo_limit.Enforcer(usage_callback,
                                   cache=self._cache_seconds > 0)

    def _usage_callback(self, project_id, resource_names):
        usage = getattr(self._usage, 'gb', None)
        if usage is None:
            raise ValueError('LimitChecker usage asked outside check()')
        return {name: usage for name in resource_names}

    def _get_enforcer(self):
        with self._lock:
            now = time.monotonic()
            if (self._enforcer is None
                    or now - self._built_at >= self._cache_seconds):
                try:
                    self._enforcer = self._factory(self._usage_callback)
                except _KEYSTONE_ERRORS as exc:
                    raise LimitServiceUnavailable(
                        'cannot reach the Keystone limits of service vsm '
                        '(check [oslo_limit]): %s' % exc) from exc
                self._built_at = now
            return self._enforcer

    def _is_registered(self, enforcer):
        # resource_names=None lists every registered limit of the service
        # in the region, the only way to tell "unregistered" from "0".
        names = {name for name, _ in enforcer.get_registered_limits(None)}
        return self.resource_name in names

    def check(self, project_id: str, current_usage_gb: int,
              delta_gb: int) -> None:
        """Raise unless ``current_usage_gb + delta_gb`` fits the limit.

        :raises OverLimit: with ``limit``, ``usage``, ``delta``.
        :raises LimitNotRegistered: the resource has no registered limit.
        :raises LimitServiceUnavailable: Keystone could not be asked.
        """
        enforcer = self._get_enforcer()
        self._usage.gb = int(current_usage_gb)
        try:
            enforcer.enforce(project_id, {self.resource_name: int(delta_gb)})
        except limit_exceptions.ProjectOverLimit as exc:
            info = exc.over_limit_info_list[0]
            if info.limit == 0 and not self._is_registered(enforcer):
                raise LimitNotRegistered(self.resource_name) from exc
            raise OverLimit(project_id, self.resource_name, info.limit,
                            info.current_usage, info.delta) from exc
        except _KEYSTONE_ERRORS as exc:
            raise LimitServiceUnavailable(
                'cannot read the %s limit of project %s from Keystone: %s'
                % (self.resource_name, project_id, exc)) from exc
        finally:
            self._usage.gb = None

    def get_limit(self, project_id: str):
        """The project's limit in GiB (-1 = unlimited), or None when the
        resource is not registered in Keystone."""
        enforcer = self._get_enforcer()
        try:
            [(_, value)] = enforcer.get_project_limits(
                project_id, [self.resource_name])
            if value == 0 and not self._is_registered(enforcer):
                return None
            return value
        except _KEYSTONE_ERRORS as exc:
            raise LimitServiceUnavailable(
                'cannot read the %s limit of project %s from Keystone: %s'
                % (self.resource_name, project_id, exc)) from exc
