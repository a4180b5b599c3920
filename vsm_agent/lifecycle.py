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

"""The per-volume request lifecycle: its phases, its record, its machine.

Each volume the agent can grow has one :class:`VolumeState` (kept in the
state file by :mod:`state`) and moves through the phases below.
:meth:`Lifecycle.step` runs once per tick for every volume: it reads the
answers that are due, lets :mod:`growth` grow a disk that grew, asks
(:mod:`sizing` says how much) when a mount's trigger fires, acknowledges,
and lifts expired denials.

The phases (persisted by :mod:`state`; the protocol states in
``vsm:req:`` / ``vsm:resp:`` are those of :mod:`vsm_agent.protocol`)::

             trigger fires, size planned
    idle ───────────────────────────────► requested ──(resp pending)─► pending
     ▲                                       │  │                          │
     │ verified / cooldown over / lifted     │  └─(resp granted)─► granted ◄┘
     │                                       │                      │
    acknowledged ◄──(disk grew: grow, write st=grown)──── extended ◄─┘
                                             │
     denied ◄──(resp denied)─────────────────┘   failed ◄──(resp failed)

* One request in flight per volume: a trigger that fires while a request
  is in flight asks for nothing more.
* **No Nova writes while idle.** Writes happen only to send a new request,
  to re-assert it when a metadata read shows the key missing or
  different (Nova can lose updates), and to acknowledge a grow.
* Metadata reads happen only while a request is in flight (every
  ``answer_poll_s``), for a denied/failed volume (every ``denied_poll_s``,
  to see the answer change) and at start-up: an idle VM reads nothing.
* The disk growing, not the answer, starts a grow (:mod:`growth`); the
  acknowledgement is written only for a request in flight.
* A denial stops the agent from asking for that volume, across restarts,
  until the answer changes (the response is removed or replaced, or its
  ``after`` time passes). It raises an alert (:mod:`alerts`); ``pending``
  does not.
* API or metadata service down: reads and writes retry with backoff
  (:class:`channel.RetryingChannel`), monitoring goes on, the status says
  so.

Usage::

    machine = lifecycle.Lifecycle(store, link, grower)
    machine.configure(conf)
    machine.seed(views, known_volume_ids, now)   # until machine.seeded
    machine.step(views, now, on_grown)           # every tick
    machine.next_due()                           # when it wants a tick
"""

import dataclasses
import logging
import os
import typing

from vsm_agent import channel
from vsm_agent import discovery
from vsm_agent import monitor
from vsm_agent import protocol
from vsm_agent import sizing

LOG = logging.getLogger(__name__)

GIB = 1024 ** 3

#: The phases of a volume's request (see the diagram above).
IDLE = 'idle'
REQUESTED = 'requested'
PENDING = 'pending'
GRANTED = 'granted'
EXTENDED = 'extended'
DENIED = 'denied'
FAILED = 'failed'
ACKNOWLEDGED = 'acknowledged'
PHASES = (IDLE, REQUESTED, PENDING, GRANTED, EXTENDED, DENIED, FAILED,
          ACKNOWLEDGED)


@dataclasses.dataclass
class VolumeState:
    """One volume's record: its phase and request (kept by :mod:`state`)."""

    volume_id: str
    phase: str = IDLE
    seq: int = 0
    #: encoded vsm:req: value of the current/last request
    request: typing.Optional[str] = None
    #: encoded vsm:resp: value last seen for that request
    response: typing.Optional[str] = None
    #: True until the request value has been accepted by Nova
    unwritten: bool = False
    denied_request_id: typing.Optional[str] = None
    retry_after: typing.Optional[int] = None
    grow_timestamps: typing.List[float] = dataclasses.field(
        default_factory=list)
    grow_attempts: int = 0
    last_error: typing.Optional[str] = None
    last_change: float = 0.0
    disk_bytes: int = 0

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> 'VolumeState':
        names = {f.name for f in dataclasses.fields(cls)}
        state = cls(**{k: v for k, v in data.items() if k in names})
        if state.phase not in PHASES:
            state.phase = IDLE
        return state


IN_FLIGHT = (REQUESTED, PENDING, GRANTED, EXTENDED)


class Lifecycle:
    """Drives every volume's request through its phases; see the module."""

    def __init__(self, store, link: channel.RetryingChannel, grower):
        self.store = store
        self.link = link
        #: a :class:`growth.Grower`
        self.grower = grower
        #: False until the start-up metadata read succeeded
        self.seeded = False
        self._views: typing.Dict[str, monitor.MountView] = {}
        self._next_read: typing.Dict[str, float] = {}

    def configure(self, conf) -> None:
        """(Re)read ``[agent]`` polling options, sizing and the roots."""
        self.opts = conf.agent
        self.sizing = sizing.SizingPolicy.from_conf(conf)
        self.roots = discovery.Roots.from_conf(conf)

    def next_due(self) -> typing.List[float]:
        """The times at which a volume wants the next tick."""
        due = list(self._next_read.values())
        due += self.grower.next_attempt.values()
        if any(vs.unwritten for vs in self.store.volumes.values()):
            due.append(self.link.write_backoff.not_before)
        return due

    def step(self, views, now: float, on_grown) -> None:
        """One tick for every volume with an expandable mount in ``views``
        ({mountpoint: MountView}, sampled): read answers that are due,
        grow what grew, ask, expire denials, retry unwritten requests.
        ``on_grown(view, now)`` restarts the monitoring of a grown mount.
        """
        self._views = views
        volumes = sorted({v.mount.volume_id for v in views.values()
                          if v.mount.volume_id and v.mount.expandable})
        self._poll_metadata(now, volumes)
        for volume_id in volumes:
            vs = self.store.volume(volume_id)
            mine = monitor.volume_views(views, volume_id)
            if vs.phase in IN_FLIGHT:
                # Cheap sysfs reads: catch the resize even without uevents.
                for view in mine:
                    view.mount.disk_bytes = discovery.disk_size_bytes(
                        self.roots, view.mount.disk)
            outcome = self.grower.grow_if_needed(vs, mine, now, on_grown)
            if outcome and vs.phase in IN_FLIGHT:
                self._acknowledge(vs, *outcome, now)
            if vs.phase == IDLE:
                self._maybe_request(vs, mine, now)
            elif vs.phase == DENIED:
                if vs.retry_after and now >= vs.retry_after:
                    LOG.info('Volume %s: denial expired (after=%d); may ask '
                             'again', volume_id, vs.retry_after)
                    self._set_phase(vs, IDLE, now)
            elif vs.phase == FAILED:
                if now - vs.last_change >= self.opts.failed_retry_s:
                    self._set_phase(vs, IDLE, now)
            if (vs.unwritten and vs.request
                    and self.link.write_backoff.ready(now)):
                self._write(vs, now)

    def _maybe_request(self, vs, views, now) -> None:
        firing = [v for v in views if v.verdict and v.verdict.fire]
        if not firing:
            return
        view = firing[0]
        decision = self.plan_size(vs, view, now)
        if decision.requested_gb is None:
            if vs.last_error != decision.explain:
                LOG.warning('Volume %s (%s) needs space but %s',
                            vs.volume_id, view.mount.mountpoint,
                            decision.explain)
                vs.last_error = decision.explain
            return
        current_gb = view.mount.disk_bytes // GIB
        vs.seq += 1
        request = protocol.ExpansionRequest(
            volume_id=vs.volume_id, request_id=protocol.new_request_id(),
            seq=vs.seq, state=protocol.RequestState.REQUESTED,
            current_gb=current_gb, requested_gb=decision.requested_gb,
            timestamp=int(now), reason=view.verdict.reason)
        LOG.info('Volume %s (%s, %.1f%% used): asking for %d GiB, request '
                 '%s seq %d, because %s; size: %s', vs.volume_id,
                 view.mount.mountpoint, view.sample.used_pct,
                 decision.requested_gb, request.request_id, request.seq,
                 view.verdict.reason, decision.explain)
        vs.request = request.encode()
        vs.response = None
        vs.denied_request_id = None
        vs.retry_after = None
        vs.grow_attempts = 0
        vs.last_error = None
        self._set_phase(vs, REQUESTED, now)
        self._next_read[vs.volume_id] = now + self.opts.answer_poll_s
        self.store.save()  # seq must be durable before it is on the wire
        self._write(vs, now)

    def plan_size(self, vs, view, now) -> sizing.SizeDecision:
        """How much to ask for: the loop's sizing, also used by check()."""
        recent = sizing.recent_grow_count(vs.grow_timestamps, now,
                                          self.sizing.adaptive_window_s)
        used_pct = view.thresholds.used_pct
        return self.sizing.plan_step(
            current_gb=view.mount.disk_bytes // GIB,
            used_bytes=view.sample.used_bytes if view.sample else 0,
            used_pct_threshold=used_pct, recent_grows=recent,
            fill_rate_bps=view.fill.bytes_per_s)

    def _write(self, vs, now) -> bool:
        request = self._request_of(vs)
        if self.opts.dry_run:
            LOG.info('dry run: would write %s = %s', request.key, vs.request)
            vs.unwritten = False
            return True
        try:
            self.link.write(request.key, vs.request)
        except channel.ChannelError as exc:
            vs.unwritten = True
            LOG.warning('Volume %s: writing request %s failed: %s; retrying '
                        'in %.0f s', vs.volume_id, request.request_id, exc,
                        exc.retry_in)
            return False
        vs.unwritten = False
        LOG.info('Volume %s: wrote %s = %s', vs.volume_id, request.key,
                 vs.request)
        return True

    @staticmethod
    def _request_of(vs) -> protocol.ExpansionRequest:
        return protocol.parse_request(protocol.request_key(vs.volume_id),
                                      vs.request)

    def _set_phase(self, vs, phase, now) -> None:
        if vs.phase != phase:
            LOG.info('Volume %s: %s -> %s', vs.volume_id, vs.phase, phase)
            vs.phase = phase
            vs.last_change = now

    def seed(self, views, known_volume_ids, now: float) -> None:
        """At start-up: adopt seq and answers Nova holds that we lack.

        Until one metadata read succeeded, ``seeded`` stays False and the
        caller tries again on the next tick.
        """
        self._views = views
        meta = self.link.read_metadata(now)
        if meta is None:
            return
        self.seeded = True
        for volume_id, entry in protocol.read_metadata(meta).items():
            if not volume_id or volume_id not in known_volume_ids:
                continue
            vs = self.store.volume(volume_id)
            seen = max([e.seq for e in (entry.request, entry.response) if e]
                       or [0])
            if seen > vs.seq:
                # The state file was lost: never reuse a sequence number.
                LOG.info('Volume %s: adopting seq %d from metadata',
                         volume_id, seen)
                vs.seq = seen
                if entry.request and not vs.request:
                    vs.request = entry.request.encode()
                    if entry.response and entry.response.answers(
                            entry.request):
                        self._apply_response(vs, entry.response, now)
                    elif entry.request.state is \
                            protocol.RequestState.REQUESTED:
                        self._set_phase(vs, REQUESTED, now)

    def _needs_read(self, vs) -> bool:
        return vs.request is not None and vs.phase in IN_FLIGHT + (
            DENIED, FAILED, ACKNOWLEDGED)

    def _poll_metadata(self, now, volumes) -> None:
        due = []
        for volume_id in volumes:
            vs = self.store.volume(volume_id)
            if not self._needs_read(vs):
                self._next_read.pop(volume_id, None)
                continue
            at = self._next_read.setdefault(volume_id, now)
            if now >= at:
                due.append(vs)
        if not due:
            return
        meta = self.link.read_metadata(now)
        if meta is None:
            return
        view = protocol.read_metadata(meta)
        for vs in due:
            self._apply_metadata(vs, meta, view.get(vs.volume_id), now)
            slow = vs.phase in (DENIED, FAILED)
            self._next_read[vs.volume_id] = now + (
                self.opts.denied_poll_s if slow else self.opts.answer_poll_s)

    def _apply_metadata(self, vs, meta, entry, now) -> None:
        request = self._request_of(vs)
        response = entry.response if entry else None
        if entry and entry.errors:
            LOG.warning('Volume %s: ignoring malformed metadata: %s',
                        vs.volume_id, '; '.join(
                            str(e) for e in entry.errors.values()))
        answers = response is not None and response.answers(request)
        on_wire = meta.get(request.key)
        if vs.phase in (DENIED, FAILED):
            if not answers:
                LOG.info('Volume %s: the %s answer was lifted; may ask '
                         'again', vs.volume_id, vs.phase)
                vs.denied_request_id = None
                vs.retry_after = None
                self._set_phase(vs, IDLE, now)
            elif response.state.value != vs.phase:
                self._apply_response(vs, response, now)
            return
        if vs.phase == ACKNOWLEDGED:
            if answers:
                # Keep the latest answer for the status (extended, usually
                # seen after the grow: the disk changes before the cache).
                vs.response = response.encode()
            if on_wire != vs.request:
                self._reassert(vs, on_wire, now)
            else:
                self._set_phase(vs, IDLE, now)
            return
        if answers:
            self._apply_response(vs, response, now)
        if vs.phase in IN_FLIGHT and on_wire != vs.request:
            self._reassert(vs, on_wire, now)

    def _reassert(self, vs, on_wire, now) -> None:
        LOG.info('Volume %s: request key %s in metadata; re-asserting',
                 vs.volume_id, 'missing' if on_wire is None else 'changed')
        self._write(vs, now)

    def _apply_response(self, vs, response, now) -> None:
        vs.response = response.encode()
        state = response.state
        if state is protocol.ResponseState.PENDING:
            self._set_phase(vs, PENDING, now)
        elif state is protocol.ResponseState.GRANTED:
            self._set_phase(vs, GRANTED, now)
        elif state is protocol.ResponseState.EXTENDED:
            if vs.phase != ACKNOWLEDGED:
                self._set_phase(vs, EXTENDED, now)
                self._rescan_scsi(vs)
        elif state is protocol.ResponseState.DENIED:
            vs.denied_request_id = response.request_id
            vs.retry_after = response.retry_after
            self._set_phase(vs, DENIED, now)
        elif state is protocol.ResponseState.FAILED:
            self._set_phase(vs, FAILED, now)

    def _rescan_scsi(self, vs) -> None:
        # virtio-scsi disks only see a capacity change after a rescan.
        for view in monitor.volume_views(self._views, vs.volume_id):
            if view.mount.disk and view.mount.disk.startswith('sd'):
                path = os.path.join(self.roots.sys, 'class', 'block',
                                    view.mount.disk, 'device', 'rescan')
                try:
                    with open(path, 'w') as f:
                        f.write('1')
                except OSError as exc:
                    LOG.debug('SCSI rescan of %s failed: %s', path, exc)

    def _acknowledge(self, vs, state, disk_bytes, now) -> None:
        request = self._request_of(vs)
        ack = request.replace(
            state=state, current_gb=disk_bytes // GIB, timestamp=int(now),
            reason=(protocol.Reason.GROWN
                    if state is protocol.RequestState.GROWN
                    else protocol.Reason.GROW_FAILED))
        vs.request = ack.encode()
        if state is protocol.RequestState.GROWN:
            self._set_phase(vs, ACKNOWLEDGED, now)
        self._next_read[vs.volume_id] = now + self.opts.answer_poll_s
        self.store.save()
        self._write(vs, now)
