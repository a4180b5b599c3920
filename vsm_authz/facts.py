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

"""Gathers, once per decision, everything the decision engine looks at.

The pipeline calls this under the volume and project locks, after its one
read of the volume from Cinder::

    from vsm_authz import facts

    gatherer = facts.Gatherer(conf, cinder, policy_for)
    volume = cinder.get_volume(volume_id)          # the one Cinder read
    ctx = gatherer.context(record, request, volume)  # rules.DecisionContext
    decision = engine.decide(ctx)

The context holds that volume (with its original size from the database)
at once. The facts that cost another call — the project's Cinder quota
and volume sizes, the volume's grant history, the project's expansion
policy — are read the first time a rule looks at them, and kept for the
rest of the decision: a request the sanity rule or the cooldown denies
costs no quota read and no listing of the project's volumes.

Whether the back end can extend attached volumes is known for in-use
volumes only (the sanity rule asks it first): the pool capability
``online_extend_support`` from
``scheduler-stats`` when reported, else the volume type extra spec of the
same name, else :oslo.config:option:`validation.no_online_extend_backends`
(None when all are silent: the extend is attempted and its failure
handled). Pool capabilities and volume types are cached for
:oslo.config:option:`validation.capability_cache_seconds`.
"""

import dataclasses
import datetime
import threading
import time
import typing

from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import strutils

from vsm_agent import protocol
from vsm_authz import clients
from vsm_authz.db import volumes
from vsm_authz.rules import base

LOG = logging.getLogger(__name__)


def request_of(record) -> protocol.ExpansionRequest:
    """The guest's request as the database recorded it."""
    return protocol.ExpansionRequest(
        volume_id=record.volume_id, request_id=record.request_id,
        seq=record.seq, state=protocol.RequestState.REQUESTED,
        current_gb=record.guest_current_gb,
        requested_gb=record.requested_gb,
        timestamp=record.request_timestamp, reason=record.request_reason)


class _Fact:
    """A fact of a :class:`Context`, read by ``load(ctx)`` the first time
    a rule looks at it and then kept on the context.

    Like :func:`functools.cached_property` without its lock: before Python
    3.12 that lock is shared by every instance, so one worker thread's
    quota read would hold up the quota read of every other thread's
    decision. A context serves one decision in one thread and needs none.
    """

    def __init__(self, load):
        self.load = load
        self.name = load.__name__
        self.__doc__ = load.__doc__

    def __get__(self, ctx, owner=None):
        if ctx is None:
            return self
        value = ctx.__dict__[self.name] = self.load(ctx)
        return value


class Context(base.DecisionContext):
    """A :class:`~vsm_authz.rules.DecisionContext` whose costly facts are
    read when a rule first needs them, at most once."""

    def __init__(self, gatherer: 'Gatherer', request, volume, now):
        # Not the dataclass __init__: it would need every fact now.
        self._gatherer = gatherer
        self.request, self.volume, self.now = request, volume, now
        self.dry_run = False

    @_Fact
    def quota(self):
        return self._gatherer.cinder.quota_set(self.volume.project_id)

    @_Fact
    def volume_history(self):
        return volumes.grant_history(self.volume.volume_id)

    @_Fact
    def project_usage_gb(self):
        return self._gatherer.project_usage_gb(self.volume.project_id)

    @_Fact
    def policy(self):
        return self._gatherer.policy_for(self.volume.project_id)


class Gatherer:
    """Builds :class:`Context` (a :class:`vsm_authz.rules.DecisionContext`);
    thread safe."""

    def __init__(self, conf: cfg.ConfigOpts, cinder: clients.CinderClient,
                 policy_for=None, clock=time.time):
        self.cinder = cinder
        self.policy_for = policy_for or (lambda project_id: None)
        self.clock = clock
        self.no_online_extend = set(conf.validation.no_online_extend_backends)
        self.cache_seconds = conf.validation.capability_cache_seconds
        self._lock = threading.Lock()
        self._pools: typing.Optional[typing.Dict[str, dict]] = None
        self._pools_at = 0.0
        self._pools_forbidden = False
        self._types: typing.Dict[str, typing.Tuple[float, dict]] = {}

    def context(self, record, request: typing.Optional[
            protocol.ExpansionRequest], volume: dict
            ) -> 'Context':
        """The facts about ``record`` given Cinder's ``volume`` dict."""
        size_gb = int(volume['size'])
        facts = base.VolumeFacts(
            volume_id=record.volume_id, project_id=record.project_id,
            server_id=record.server_id, size_gb=size_gb,
            volume_type=volume.get('volume_type'),
            status=volume.get('status'),
            original_size_gb=volumes.original_size(record.volume_id)
            or size_gb,
            host=volume.get('os-vol-host-attr:host'))
        if facts.status == 'in-use':
            facts = dataclasses.replace(
                facts, online_extend_support=self.online_extend_support(facts))
        return Context(self, request or request_of(record), facts,
                       datetime.datetime.utcfromtimestamp(self.clock()))

    def project_usage_gb(self, project_id: str) -> int:
        """GB of every volume of the project, as Cinder counts them now
        (what ``vsm_storage_gigabytes`` limits)."""
        return sum(int(v.get('size') or 0)
                   for v in self.cinder.project_volumes(project_id))

    # ------------------------------------------------------ capabilities --

    def online_extend_support(self, volume: base.VolumeFacts
                              ) -> typing.Optional[bool]:
        """True / False when known, None when nobody says."""
        pool = self._pool(volume.host)
        if pool is not None:
            value = pool.get('capabilities', {}).get('online_extend_support')
            if value is not None:
                return strutils.bool_from_string(value)
        backend_names = set()
        if volume.host:
            backend_names.add(volume.host.split('#')[0])
            backend_names.add(volume.host.split('#')[0].split('@')[-1])
        if pool is not None:
            name = pool.get('capabilities', {}).get('volume_backend_name')
            if name:
                backend_names.add(name)
        vtype = self._volume_type(volume.volume_type)
        if vtype is not None:
            specs = vtype.get('extra_specs') or {}
            for key in ('online_extend_support',
                        'capabilities:online_extend_support'):
                if key in specs:
                    return strutils.bool_from_string(
                        str(specs[key]).replace('<is>', '').strip())
            if specs.get('volume_backend_name'):
                backend_names.add(specs['volume_backend_name'])
        if backend_names & self.no_online_extend:
            return False
        return None

    def _pool(self, host: typing.Optional[str]) -> typing.Optional[dict]:
        if not host or self._pools_forbidden:
            return None
        with self._lock:
            if (self._pools is None
                    or time.monotonic() - self._pools_at > self.cache_seconds):
                try:
                    self._pools = {p['name']: p for p in self.cinder.pools()}
                except clients.CloudUnavailable:
                    raise
                except clients.CloudError as exc:
                    # Not an admin: fall back to type specs and config.
                    LOG.info('Cannot read Cinder pools (%s); using volume '
                             'type extra specs and configuration', exc)
                    self._pools_forbidden = True
                    return None
                self._pools_at = time.monotonic()
            return self._pools.get(host)

    def _volume_type(self, name: typing.Optional[str]
                     ) -> typing.Optional[dict]:
        if not name:
            return None
        with self._lock:
            cached = self._types.get(name)
            if cached and time.monotonic() - cached[0] <= self.cache_seconds:
                return cached[1]
        try:
            vtype = self.cinder.volume_type(name)
        except clients.CloudUnavailable:
            raise
        except clients.CloudError as exc:
            LOG.debug('Cannot read volume type %s: %s', name, exc)
            vtype = None
        with self._lock:
            self._types[name] = (time.monotonic(), vtype)
        return vtype
