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

"""The agent daemon: the loop that ties the one-job modules together.

Each :meth:`Agent.tick`:

1. re-discovers mounts and disks when due or after a capacity uevent
   (:mod:`discovery`; unknown disk serials are looked up through
   :mod:`channel`);
2. samples the mounts that are due and evaluates their triggers
   (:meth:`monitor.MountView.observe`, :mod:`triggers`), sampling more
   often near a threshold;
3. runs one step of each volume's request lifecycle (:mod:`lifecycle`:
   answers, grows via :mod:`growth`, requests sized by :mod:`sizing`);
4. updates the alerts and, when something changed, the status file
   (:mod:`status`, :mod:`alerts`) and saves the state (:mod:`state`);
5. says how long to sleep until the next thing is due.

:meth:`Agent.run` sleeps in ``select()`` on the kernel uevent socket
(:mod:`uevents`) and a wake-up pipe, so a capacity change or a signal
cuts the sleep short; one failing tick is logged and the loop goes on.
SIGHUP (:meth:`Agent.request_reload`) re-reads the configuration files.

:meth:`Agent.check` is one dry-run pass through the same evaluation and
sizing as the loop: what would be asked, and why.

Usage::

    conf = cfg.ConfigOpts(); opts.register_opts(conf); conf([...])
    agent = service.Agent(conf)
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

from vsm_agent import alerts
from vsm_agent import channel
from vsm_agent import discovery
from vsm_agent import grow
from vsm_agent import growth
from vsm_agent import lifecycle
from vsm_agent import monitor
from vsm_agent import state
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


class Agent:
    """The guest agent; see the module docstring."""

    def __init__(self, conf, nova=None, runner: grow.Runner = None,
                 clock=time.time, listener=None, use_uevents=True,
                 grower=None):
        """``conf`` has every option registered (:func:`opts.register_opts`).

        ``nova`` replaces the channel built from ``[nova]``, ``grower`` and
        ``runner`` the grow pipeline and its command runner, ``listener``
        the uevent socket (False: none): stand-ins for tests.
        """
        self.conf = conf
        self._nova = nova
        self.clock = clock
        self.listener = (listener if listener is not None else
                         (uevents.UeventListener.open() if use_uevents
                          else None))
        self.views: typing.Dict[str, monitor.MountView] = {}
        self.tracker = triggers.BreachTracker()
        self.store = state.StateStore(conf[GROUP].state_dir)
        self.link = channel.RetryingChannel(nova, clock)
        self.grower = growth.Grower(grower or grow.grow,
                                    runner or grow.run_command)
        self.lifecycle = lifecycle.Lifecycle(self.store, self.link,
                                             self.grower)
        self._next_rescan = 0.0
        self._next_resolve = 0.0
        self._published = None
        self._published_at = 0.0
        self._stop = False
        self._reload = False
        self._capacity_event = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.configure()

    # ------------------------------------------------------- configuration --

    def configure(self) -> None:
        """(Re)build every policy object from the configuration."""
        self.opts = self.conf[GROUP]
        self.roots = discovery.Roots.from_conf(self.conf)
        self.selector = discovery.MountSelector.from_conf(self.conf)
        self.classes = triggers.UsageClasses.from_conf(self.conf)
        self.near_margin = self.conf[triggers.GROUP].near_margin_pct
        self.alerts = alerts.Alerts.from_conf(self.conf)
        self.link.channel = (self._nova or
                             channel.NovaChannel.from_conf(self.conf))
        self.grower.configure(self.conf)
        self.lifecycle.configure(self.conf)
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
        if not self.lifecycle.seeded:
            self.lifecycle.seed(self.views, self.known_volume_ids(), now)
        for view in self.views.values():
            if now >= view.next_sample_at:
                self.sample(view, now)
        self.lifecycle.step(self.views, now, self._restart_monitoring)
        self.alerts.update(status.alert_lines(self.views, self.store))
        self.store.save()
        self._publish(now)
        due = [v.next_sample_at for v in self.views.values()]
        due.append(self._next_rescan)
        due += self.lifecycle.next_due()
        return max(0.0, min(due) - self.clock())

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
        sized by :meth:`lifecycle.Lifecycle.plan_size` -- the loop's own
        decision -- on a copy of its view with a fresh breach count:
        nothing the loop relies on changes, nothing is written or grown.
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
            if (verdict.state in ('breach', 'firing')
                    and probe.mount.expandable):
                vs = self.store.volume(probe.mount.volume_id)
                phase = vs.phase
                if phase == lifecycle.IDLE:
                    decision = self.lifecycle.plan_size(vs, probe, now)
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
