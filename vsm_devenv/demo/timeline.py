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

"""What happened during a demo or an end-to-end run, in time order.

A :class:`Timeline` collects samples of the guest filesystem (used bytes,
filesystem size) and of the Cinder volume (size), and the protocol events
(request, decision, extend, grow) with the time they were seen. The live
view, the chart and the end-to-end benchmarks all read it::

    timeline = Timeline()
    timeline.sample(used_bytes=..., fs_bytes=..., volume_gb=...)
    timeline.event('request', 'asked for 3 GiB (used 91 %)')
    timeline.save('demo-out/timeline.json')
"""

import dataclasses
import json
import time
import typing

#: Event kinds, in the order a successful expansion produces them.
KINDS = ('request', 'pending', 'granted', 'denied', 'extended', 'resized',
         'grown', 'failed', 'enospc', 'note')


@dataclasses.dataclass
class Sample:
    t: float
    used_bytes: int
    fs_bytes: int
    volume_gb: int


@dataclasses.dataclass
class Event:
    t: float
    kind: str
    text: str


class Timeline:
    """Samples and events, with times relative to the timeline's start."""

    def __init__(self, start: typing.Optional[float] = None):
        self.start = time.monotonic() if start is None else start
        self.samples: typing.List[Sample] = []
        self.events: typing.List[Event] = []

    def now(self) -> float:
        return time.monotonic() - self.start

    def sample(self, used_bytes: int, fs_bytes: int, volume_gb: int,
               t: typing.Optional[float] = None) -> Sample:
        sample = Sample(self.now() if t is None else t, int(used_bytes),
                        int(fs_bytes), int(volume_gb))
        self.samples.append(sample)
        return sample

    def event(self, kind: str, text: str,
              t: typing.Optional[float] = None) -> Event:
        if kind not in KINDS:
            raise ValueError('unknown event kind %r (expected one of %s)'
                             % (kind, ', '.join(KINDS)))
        event = Event(self.now() if t is None else t, kind, text)
        self.events.append(event)
        return event

    def first(self, kind: str, after: float = 0.0
              ) -> typing.Optional[Event]:
        """The first event of ``kind`` at or after time ``after``."""
        for event in self.events:
            if event.kind == kind and event.t >= after:
                return event
        return None

    def to_dict(self) -> dict:
        return {'samples': [dataclasses.asdict(s) for s in self.samples],
                'events': [dataclasses.asdict(e) for e in self.events]}

    def save(self, path: str) -> None:
        with open(path, 'w') as f:
            json.dump(self.to_dict(), f, indent=1)

    @classmethod
    def load(cls, path: str) -> 'Timeline':
        with open(path) as f:
            data = json.load(f)
        timeline = cls(start=0.0)
        timeline.samples = [Sample(**s) for s in data['samples']]
        timeline.events = [Event(**e) for e in data['events']]
        return timeline
