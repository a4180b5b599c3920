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

"""What the demo watches: a running ClosedLoop, turned into a Timeline.

::

    observer = Observer(loop, on_sample=view.sample, on_event=view.event)
    observer.start()
    ...
    observer.stop()
    observer.timeline.save('timeline.json')
"""

import logging
import os
import threading

from vsm_agent import protocol
from vsm_devenv import closedloop
from vsm_devenv.demo import timeline as timeline_mod

LOG = logging.getLogger(__name__)
GiB = closedloop.GiB


class Observer(threading.Thread):
    """Turns what the cloud and the guest show into a Timeline, as it happens.

    Every ``interval`` seconds: the server's metadata (Nova API, admin), each
    volume's Cinder size, each filesystem's usage in the guest; plus the
    guest kernel's block uevents (``RESIZE=1``: the disk grew). Each new
    request/response state becomes one event; ``on_sample``/``on_event``
    callbacks feed a live view.
    """

    def __init__(
        self,
        loop,
        interval=0.5,
        on_sample=None,
        on_event=None,
        timeline=None,
        volume=None,
    ):
        super().__init__(name='vsm-closedloop-observer', daemon=True)
        self.loop = loop
        self.interval = interval
        self.timeline = timeline or timeline_mod.Timeline()
        self.on_sample = on_sample
        self.on_event = on_event
        self.volume = volume or loop.volumes[0].name
        self._halt = threading.Event()
        self._seen = {}
        self._granted = set()
        self._sizes = {}
        self._uevent_cursor = loop.guest.uevent_cursor()
        self.errors = []
        #: [(t, kind, volume name, request/response/size)]
        self.log = []

    def stop(self):
        self._halt.set()
        self.join(timeout=30)

    def event(self, kind, text, t=None):
        ev = self.timeline.event(kind, text, t)
        if self.on_event:
            self.on_event(ev)
        return ev

    def run(self):
        while not self._halt.is_set():
            try:
                self.poll_once()
            except (
                Exception
            ) as e:  # keep observing: a failed poll is not fatal
                self.errors.append(repr(e))
                LOG.debug('observer poll failed: %r', e)
            self._halt.wait(self.interval)

    def poll_once(self):
        loop = self.loop
        now = self.timeline.now
        self._poll_uevents()
        meta = loop.cloud.server_metadata(loop.server_id)
        entries = protocol.read_metadata(meta)
        for spec in loop.volumes:
            entry = entries.get(spec.volume_id)
            if entry is not None:
                self._diff(spec, entry)
            size = loop.cloud.volume_size(spec.volume_id)
            if self._sizes.get(spec.volume_id) not in (None, size):
                self.log.append((now(), 'cinder_size', spec.name, size))
                self.event(
                    'extended',
                    '%snow %d GiB (Cinder)' % (self._who(spec), size),
                )
            self._sizes[spec.volume_id] = size
            if spec.name == self.volume and spec.layout:
                used, fs, _ = closedloop.guest_statvfs(loop.guest, spec.mountpoint)
                sample = self.timeline.sample(used, fs, size)
                if self.on_sample:
                    self.on_sample(sample)

    def _poll_uevents(self):
        guest = self.loop.guest
        events = guest.uevents(self._uevent_cursor)
        if not events:
            return
        self._uevent_cursor = events[-1]['seq'] + 1
        by_dev = {
            os.path.basename(guest.device_for_serial(s.volume_id)): s
            for s in self.loop.volumes
        }
        for ev in events:
            env = ev['env']
            spec = by_dev.get(env.get('DEVNAME'))
            if spec is None or env.get('RESIZE') != '1':
                continue
            t = ev['t_host'] - self.timeline.start
            try:
                size = guest.disk_size_bytes('/dev/' + env['DEVNAME'])
                text = '%s%.1f GiB (guest kernel)' % (
                    self._who(spec), size / GiB)
            except Exception:
                text = '%scapacity change' % self._who(spec)
            self.log.append((t, 'resized', spec.name, None))
            self.event('resized', text, t=t)

    def _who(self, spec):
        """'' when one filesystem is watched, else '<name>: '."""
        watched = [v for v in self.loop.volumes if v.layout]
        return '' if len(watched) <= 1 else spec.name + ': '

    def _first_sight(self, spec, kind, record, now):
        """True (and logged) when a request/response state is new."""
        key, sig = (spec.volume_id, kind), (record.request_id, record.state)
        if self._seen.get(key) == sig:
            return False
        self._seen[key] = sig
        self.log.append((now, kind, spec.name, record))
        return True

    def _diff(self, spec, entry):
        now = self.timeline.now()
        who = self._who(spec)
        req, resp = entry.request, entry.response
        if req is not None and self._first_sight(spec, 'req', req, now):
            if req.state is protocol.RequestState.REQUESTED:
                self.event('request', '%sfrom %d to %d GiB (%s)' % (
                    who, req.current_gb, req.requested_gb,
                    _plain_reason(req.reason)))
            elif req.state is protocol.RequestState.GROWN:
                self.event('grown', '%spartition and filesystem now '
                           'fill %d GiB' % (who, req.current_gb))
            else:
                self.event('failed', '%sthe guest could not grow (%s)'
                           % (who, req.reason))
        if resp is not None and self._first_sight(spec, 'resp', resp, now):
            state = resp.state.value
            reason = _plain_reason(resp.reason)
            text = {
                'pending': 'a human must approve %d GiB' % resp.size_gb,
                'granted': 'the volume will grow to %d GiB'
                           % resp.size_gb,
                'denied': '%s; the volume stays at %d GiB'
                          % (reason, resp.size_gb),
                'extended': 'VSM reports the volume at %d GiB'
                            % resp.size_gb,
                'failed': 'the extend failed (%s); volume at %d GiB'
                          % (reason, resp.size_gb),
            }[state]
            if state == 'granted':
                self._granted.add(resp.request_id)
            elif state == 'extended':
                # a quick grant may be seen only as 'extended': show it;
                # Cinder's size change is shown already ('extended')
                if resp.request_id not in self._granted:
                    self._granted.add(resp.request_id)
                    self.event('granted', who + 'the volume will grow '
                               'to %d GiB' % resp.size_gb)
                return
            self.event(state, who + text)


_REASONS = {
    'used_pct': 'disk nearly full',
    'free_pct': 'little free space left',
    'free_bytes': 'free space below the floor',
    'inodes': 'out of file slots',
    'predicted': 'will be full soon at this rate',
    'emergency': 'almost completely full',
    'over_limit': "the project's storage limit is reached",
    'quota': 'Cinder quota reached',
    'max_size': 'largest allowed size reached',
    'cooldown': 'asked too often',
    'rate': 'too many requests',
    'runaway': 'growing suspiciously fast',
    'ok': 'within the limits',
}


def _plain_reason(code):
    return _REASONS.get(code, code)
