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

"""The agent daemon: monitor, decide, ask, grow, acknowledge, alert.

:class:`Agent` ties the one-job modules together. Each :meth:`Agent.tick`
samples the mounts that are due (:mod:`monitor`), evaluates their
triggers (:mod:`triggers`), drives one request state machine per volume
and says how long to sleep; :meth:`Agent.run` sleeps in ``select()`` on
the kernel uevent socket (:mod:`uevents`) and a wake-up pipe, so a
capacity change or a signal cuts the sleep short.

Per-volume state machine (persisted by :mod:`state`; protocol states in
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
* The disk growing is what triggers a grow, not the answer: Nova's
  metadata cache lags the extend by up to 15 s, the uevent does not. Any
  capacity increase of a mapped disk is grown (also one an operator made
  by hand); the acknowledgement is written only for a request in flight.
* A denial stops the agent from asking for that volume, across restarts,
  until the answer changes (the response is removed or replaced, or its
  ``after`` time passes). It raises an alert (:mod:`alerts`); ``pending``
  does not.
* API or metadata service down: reads and writes retry with backoff,
  monitoring goes on, the status says so.

Usage::

    agent = service.Agent(conf)          # conf with every option registered
    agent.run()                          # until agent.request_stop()
    agent.check()                        # one dry-run pass: what and why
"""

import copy
import dataclasses
import logging
import os
import select
import time
import typing

from oslo_config import cfg

from vsm_agent import alerts as alerts_mod
from vsm_agent import channel
from vsm_agent import discovery
from vsm_agent import grow
from vsm_agent import growth
from vsm_agent import monitor
from vsm_agent import protocol
from vsm_agent import sizing
from vsm_agent import state as state_mod
from vsm_agent import status
from vsm_agent import triggers
from vsm_agent import uevents

LOG = logging.getLogger(__name__)

GROUP = 'agent'
GIB = 1024 ** 3

agent_opts = [
    cfg.FloatOpt('interval_s', default=1.0, min=0.1,
                 help='Sampling interval of a mount far from its '
                      'thresholds.'),
    cfg.FloatOpt('min_interval_s', default=0.25, min=0.05,
                 help='Sampling interval of a mount in or near breach.'),
    cfg.FloatOpt('rescan_interval_s', default=60.0, min=1,
                 help='Re-discover mounts and disks this often (capacity '
                      'uevents trigger a rescan at once).'),
    cfg.FloatOpt('answer_poll_s', default=5.0, min=0.1,
                 help='Read metadata this often while a request is in '
                      'flight.'),
    cfg.FloatOpt('denied_poll_s', default=300.0, min=1,
                 help='Read metadata this often for a denied or failed '
                      'volume, to notice the answer change.'),
    cfg.FloatOpt('failed_retry_s', default=3600.0, min=1,
                 help='After the service reports a failed extend, ask '
                      'again after this many seconds.'),
    cfg.FloatOpt('grow_retry_s', default=10.0, min=0.1,
                 help='First retry delay of a failed grow (doubles, up '
                      'to 10 minutes).'),
    cfg.IntOpt('grow_max_attempts', default=4, min=1,
               help='Failed grow attempts before the request is '
                    'acknowledged as failed (retries go on).'),
    cfg.FloatOpt('resolve_interval_s', default=600.0, min=1,
                 help='Look up unknown disk serials in Nova at most this '
                      'often.'),
    cfg.FloatOpt('fill_window_s', default=300.0, min=1,
                 help='Window of the fill-rate estimate.'),
    cfg.StrOpt('state_dir', default='/var/lib/vsm-agent',
               help='Where the per-volume state is persisted.'),
    cfg.BoolOpt('dry_run', default=False,
                help='Monitor and log what would be asked; never write '
                     'to Nova and never grow.'),
]


def list_opts():
    return [(GROUP, agent_opts)]


IN_FLIGHT = (state_mod.REQUESTED, state_mod.PENDING, state_mod.GRANTED,
             state_mod.EXTENDED)


class Agent:
    """The guest agent; see the module docstring."""

    def __init__(self, conf, channel=None, runner: grow.Runner = None,
                 clock=time.time, listener=None, use_uevents=True,
                 grower=None):
        self.conf = conf
        self._injected_channel = channel
        self.grower = growth.Grower(grower or grow.grow,
                                    runner or grow.run_command)
        self.clock = clock
        self.listener = (listener if listener is not None else
                         (uevents.UeventListener.open() if use_uevents
                          else None))
        self.views: typing.Dict[str, monitor.MountView] = {}
        self.tracker = triggers.BreachTracker()
        self.link = None  # a channel.RetryingChannel, made by configure()
        self._next_rescan = 0.0
        self._next_resolve = 0.0
        self._next_read: typing.Dict[str, float] = {}
        self._meta_seeded = False
        self._published = None
        self._published_at = 0.0
        self._stop = False
        self._reload = False
        self._capacity_event = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.configure()
        self.store = state_mod.StateStore(self.opts.state_dir)

    # ------------------------------------------------------- configuration --

    def configure(self) -> None:
        """(Re)build every policy object from the configuration."""
        self.opts = self.conf[GROUP]
        self.roots = discovery.Roots.from_conf(self.conf)
        self.selector = discovery.MountSelector.from_conf(self.conf)
        self.classes = triggers.UsageClasses.from_conf(self.conf)
        self.near_margin = self.conf[triggers.GROUP].near_margin_pct
        self.sizing = sizing.SizingPolicy.from_conf(self.conf)
        self.grower.configure(self.conf)
        self.alerts = alerts_mod.Alerts.from_conf(self.conf)
        nova = (self._injected_channel or
                channel.NovaChannel.from_conf(self.conf))
        if self.link is None:
            self.link = channel.RetryingChannel(nova, self.clock)
        else:
            self.link.channel = nova
        for view in self.views.values():
            view.thresholds = self.classes.thresholds_for(
                view.mount.mountpoint)
        self._next_rescan = 0.0

    def reload(self) -> None:
        LOG.info('Reloading configuration')
        self.conf.reload_config_files()
        self.configure()

    # -------------------------------------------------------------- signals --

    def request_stop(self) -> None:
        self._stop = True
        self._wake()

    def request_reload(self) -> None:
        self._reload = True
        self._wake()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b'x')
        except OSError:
            pass

    # ------------------------------------------------------------ discovery --

    def known_volume_ids(self) -> typing.Set[str]:
        ids = set(self.conf[discovery.GROUP].volume_ids)
        ids.update(self.store.volume_ids.values())
        ids.update(self.store.volumes)
        return {i.lower() for i in ids}

    def rescan(self, now: float) -> None:
        group = self.conf[discovery.GROUP]
        mounts = discovery.discover(self.roots, self.known_volume_ids(),
                                    self.selector, group.static_volumes)
        unresolved = discovery.unresolved_serials(mounts)
        if unresolved and now >= self._next_resolve:
            self._next_resolve = now + self.opts.resolve_interval_s
            if self._resolve(unresolved):
                mounts = discovery.discover(self.roots,
                                            self.known_volume_ids(),
                                            self.selector,
                                            group.static_volumes)
        fresh = {}
        for m in mounts:
            view = self.views.get(m.mountpoint)
            if view is None:
                view = monitor.MountView(
                    m, self.classes.thresholds_for(m.mountpoint),
                    monitor.FillRate(self.opts.fill_window_s))
            view.mount = m
            fresh[m.mountpoint] = view
            if m.volume_id and m.expandable:
                vs = self.store.volume(m.volume_id)
                if not vs.disk_bytes:
                    vs.disk_bytes = m.disk_bytes
        for gone in set(self.views) - set(fresh):
            self.tracker.reset(gone)
        self.views = fresh
        self._next_rescan = now + self.opts.rescan_interval_s

    def _resolve(self, serials: typing.Set[str]) -> bool:
        """Learn full volume ids for serials; True if any was learned."""
        learned = self.link.volume_ids_of(serials)
        for serial, volume_id in sorted(learned.items()):
            LOG.info('Disk serial %s is volume %s', serial, volume_id)
            self.store.volume_ids[serial.lower()] = volume_id
        return bool(learned)

    # ------------------------------------------------------------- the tick --

    def tick(self, now: typing.Optional[float] = None) -> float:
        """One pass; returns the seconds until the next one is due."""
        now = self.clock() if now is None else now
        if self._reload:
            self._reload = False
            self.reload()
        if now >= self._next_rescan or self._capacity_event:
            self._capacity_event = False
            self.rescan(now)
            self._refresh_disk_sizes()
        if not self._meta_seeded:
            self._seed_from_metadata(now)
        for view in self.views.values():
            if now >= view.next_sample_at:
                self.sample(view, now)
        self._drive_volumes(now)
        self.store.save()
        self._publish(now)
        due = [v.next_sample_at for v in self.views.values()]
        due.append(self._next_rescan)
        due += [t for t in self._next_read.values()]
        due += [t for t in self.grower.next_attempt.values()]
        if any(vs.unwritten for vs in self.store.volumes.values()):
            due.append(self.link.write_backoff.not_before)
        return max(0.0, min(due) - self.clock()) if due else \
            self.opts.interval_s

    def _refresh_disk_sizes(self) -> None:
        for view in self.views.values():
            if view.mount.disk:
                view.mount.disk_bytes = discovery.disk_size_bytes(
                    self.roots, view.mount.disk)

    def sample(self, view: monitor.MountView, now: float) -> None:
        """Sample and evaluate one mount; schedule its next sample."""
        try:
            view.observe(now, self.tracker, self.near_margin)
        except OSError as exc:
            view.error = 'statvfs failed: %s' % exc
            view.next_sample_at = now + self.opts.interval_s
            return
        view.next_sample_at = now + triggers.next_interval(
            view.thresholds, view.sample, view.verdict, self.opts.interval_s,
            self.opts.min_interval_s, self.near_margin, view.time_to_full_s)

    def _views_of(self, volume_id: str) -> typing.List[monitor.MountView]:
        return monitor.volume_views(self.views, volume_id)

    def _drive_volumes(self, now: float) -> None:
        volumes = sorted({v.mount.volume_id for v in self.views.values()
                          if v.mount.volume_id and v.mount.expandable})
        self._poll_metadata(now, volumes)
        for volume_id in volumes:
            vs = self.store.volume(volume_id)
            views = self._views_of(volume_id)
            if vs.phase in IN_FLIGHT:
                # Cheap sysfs reads: catch the resize even without uevents.
                for view in views:
                    view.mount.disk_bytes = discovery.disk_size_bytes(
                        self.roots, view.mount.disk)
            outcome = self.grower.grow_if_needed(vs, views, now,
                                                 self._restart_monitoring)
            if outcome and vs.phase in IN_FLIGHT:
                self._acknowledge(vs, *outcome, now)
            if vs.phase == state_mod.IDLE:
                self._maybe_request(vs, views, now)
            elif vs.phase == state_mod.DENIED:
                if vs.retry_after and now >= vs.retry_after:
                    LOG.info('Volume %s: denial expired (after=%d); may ask '
                             'again', volume_id, vs.retry_after)
                    self._set_phase(vs, state_mod.IDLE, now)
            elif vs.phase == state_mod.FAILED:
                if now - vs.last_change >= self.opts.failed_retry_s:
                    self._set_phase(vs, state_mod.IDLE, now)
            if (vs.unwritten and vs.request
                    and self.link.write_backoff.ready(now)):
                self._write(vs, now)
        self.alerts.update(status.alert_lines(self.views, self.store))

    # -------------------------------------------------------------- asking --

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
        self._set_phase(vs, state_mod.REQUESTED, now)
        self._next_read[vs.volume_id] = now + self.opts.answer_poll_s
        self.store.save()  # seq must be durable before it is on the wire
        self._write(vs, now)

    def plan_size(self, vs, view, now) -> sizing.SizeDecision:
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

    # ------------------------------------------------------------- answers --

    def _seed_from_metadata(self, now) -> None:
        """At start-up: adopt seq and answers Nova holds that we lack."""
        meta = self.link.read_metadata(now)
        if meta is None:
            return
        self._meta_seeded = True
        for volume_id, entry in protocol.read_metadata(meta).items():
            if not volume_id or volume_id not in self.known_volume_ids():
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
                        self._set_phase(vs, state_mod.REQUESTED, now)

    def _needs_read(self, vs) -> bool:
        return vs.request is not None and vs.phase in IN_FLIGHT + (
            state_mod.DENIED, state_mod.FAILED, state_mod.ACKNOWLEDGED)

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
            slow = vs.phase in (state_mod.DENIED, state_mod.FAILED)
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
        if vs.phase in (state_mod.DENIED, state_mod.FAILED):
            if not answers:
                LOG.info('Volume %s: the %s answer was lifted; may ask '
                         'again', vs.volume_id, vs.phase)
                vs.denied_request_id = None
                vs.retry_after = None
                self._set_phase(vs, state_mod.IDLE, now)
            elif response.state.value != vs.phase:
                self._apply_response(vs, response, now)
            return
        if vs.phase == state_mod.ACKNOWLEDGED:
            if answers:
                # Keep the latest answer for the status (extended, usually
                # seen after the grow: the disk changes before the cache).
                vs.response = response.encode()
            if on_wire != vs.request:
                self._reassert(vs, on_wire, now)
            else:
                self._set_phase(vs, state_mod.IDLE, now)
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
            self._set_phase(vs, state_mod.PENDING, now)
        elif state is protocol.ResponseState.GRANTED:
            self._set_phase(vs, state_mod.GRANTED, now)
        elif state is protocol.ResponseState.EXTENDED:
            if vs.phase != state_mod.ACKNOWLEDGED:
                self._set_phase(vs, state_mod.EXTENDED, now)
                self._rescan_scsi(vs)
        elif state is protocol.ResponseState.DENIED:
            vs.denied_request_id = response.request_id
            vs.retry_after = response.retry_after
            self._set_phase(vs, state_mod.DENIED, now)
        elif state is protocol.ResponseState.FAILED:
            self._set_phase(vs, state_mod.FAILED, now)

    def _rescan_scsi(self, vs) -> None:
        # virtio-scsi disks only see a capacity change after a rescan.
        for view in self._views_of(vs.volume_id):
            if view.mount.disk and view.mount.disk.startswith('sd'):
                path = os.path.join(self.roots.sys, 'class', 'block',
                                    view.mount.disk, 'device', 'rescan')
                try:
                    with open(path, 'w') as f:
                        f.write('1')
                except OSError as exc:
                    LOG.debug('SCSI rescan of %s failed: %s', path, exc)

    # -------------------------------------------------------------- growing --

    def notice_capacity_change(self, disks=()) -> None:
        """A uevent said a disk's capacity changed: rescan at once."""
        LOG.info('Capacity change on %s', ', '.join(d for d in disks if d)
                 or 'a disk')
        self._capacity_event = True

    def _restart_monitoring(self, view, now) -> None:
        """A grown mount: forget its fill rate and breaches, sample now."""
        view.fill.reset()
        self.tracker.reset(view.mount.mountpoint)
        view.next_sample_at = now
        self.sample(view, now)

    def _acknowledge(self, vs, state, disk_bytes, now) -> None:
        request = self._request_of(vs)
        ack = request.replace(
            state=state, current_gb=disk_bytes // GIB, timestamp=int(now),
            reason=(protocol.Reason.GROWN
                    if state is protocol.RequestState.GROWN
                    else protocol.Reason.GROW_FAILED))
        vs.request = ack.encode()
        if state is protocol.RequestState.GROWN:
            self._set_phase(vs, state_mod.ACKNOWLEDGED, now)
        self._next_read[vs.volume_id] = now + self.opts.answer_poll_s
        self.store.save()
        self._write(vs, now)

    # --------------------------------------------------------------- status --

    def status(self, now: typing.Optional[float] = None) -> dict:
        """The status snapshot (what ``vsm-agent status`` shows)."""
        now = self.clock() if now is None else now
        return status.snapshot(self.views, self.store, self.link.health,
                               getattr(self.link.channel, '_server_id', None),
                               self.opts.dry_run, now)

    def _publish(self, now) -> None:
        # Building and writing the snapshot costs more than a tick: do it
        # when something a reader cares about changed, else every 30 s.
        mark = status.fingerprint(self.views, self.store, self.link.health)
        if mark == self._published and now - self._published_at < 30:
            return
        self._published, self._published_at = mark, now
        self.alerts.write_status(self.status(now))

    # ----------------------------------------------------------- dry run --

    def check(self, now: typing.Optional[float] = None) -> typing.List[dict]:
        """One pass without side effects: what would be asked, and why.

        Each mount is evaluated by :meth:`monitor.MountView.observe` and
        sized by :meth:`plan_size`, the loop's own decision, on a copy of
        its view with a fresh breach count: nothing the loop relies on
        changes, and nothing is written or grown.
        """
        now = self.clock() if now is None else now
        self.rescan(now)
        tracker = triggers.BreachTracker()
        report = []
        for mp, view in sorted(self.views.items()):
            probe = dataclasses.replace(view, fill=copy.deepcopy(view.fill))
            try:
                verdict = probe.observe(now, tracker, self.near_margin)
            except OSError as exc:
                report.append(status.check_entry(probe, error=str(exc)))
                continue
            phase = decision = None
            if verdict.state in ('breach', 'firing') and probe.mount.expandable:
                vs = self.store.volume(probe.mount.volume_id)
                phase = vs.phase
                if phase == state_mod.IDLE:
                    decision = self.plan_size(vs, probe, now)
            report.append(status.check_entry(probe, phase, decision))
        return report

    # --------------------------------------------------------------- loop --

    def run(self) -> None:
        """Tick until :meth:`request_stop`; sleeps in select()."""
        LOG.info('vsm-agent started (interval %.1f s, uevents %s, dry run '
                 '%s)', self.opts.interval_s,
                 'on' if self.listener else 'off', self.opts.dry_run)
        fds = [self._wake_r] + ([self.listener] if self.listener else [])
        while not self._stop:
            try:
                delay = self.tick()
            except Exception:
                # One bad tick must not kill the monitoring of every mount.
                LOG.exception('Unexpected error in the agent loop')
                delay = self.opts.interval_s
            if self._stop:
                break
            try:
                ready, _, _ = select.select(fds, [], [], delay)
            except InterruptedError:
                continue
            if self._wake_r in ready:
                try:
                    while os.read(self._wake_r, 64):
                        pass
                except BlockingIOError:
                    pass
            if self.listener and self.listener in ready:
                disks = self.listener.resized_disks()
                if disks:
                    self.notice_capacity_change(disks)
        self.store.save()
        LOG.info('vsm-agent stopped')
