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

"""Growth: when a volume's disk grew, grow what lives on it; retry failures.

:mod:`grow` knows the commands that take one filesystem up to its disk's
size. This module decides when to run them and what follows, once per
tick and volume (:meth:`Grower.grow_if_needed`):

* **When**: the volume's disk (sysfs, re-read after a capacity uevent or
  while a request is in flight) is larger than the size recorded in its
  state. The disk growing is the trigger, not the answer in the metadata
  (Nova's cache lags the extend by up to 15 s, the uevent does not), so a
  capacity increase made by hand is grown too. ``[agent] dry_run`` never
  grows.
* **What**: every expandable filesystem of the volume (partitions or LVM
  may put several on one disk), through the grow pipeline.
* **Success**: the new disk size and the time are recorded (adaptive
  sizing counts recent grows), each grown mount starts monitoring afresh
  (``on_grown``) and the result is ``GROWN``.
* **Failure** (a step failed, or nothing grew): the attempt is counted,
  the error recorded for the status and the motd, and the next attempt
  waits ``[agent] grow_retry_s``, doubling up to 10 minutes. The attempt
  that reaches ``grow_max_attempts`` returns ``FAILED`` (retries go on).

The caller (:mod:`lifecycle`) acknowledges a request in flight with that
result. Usage::

    grower = growth.Grower(grow.grow, grow.run_command)
    grower.configure(conf)
    outcome = grower.grow_if_needed(vs, views, now, on_grown)
    if outcome:
        state, disk_bytes = outcome     # protocol.RequestState.GROWN/FAILED
"""

import logging
import typing

from vsm_agent import protocol

LOG = logging.getLogger(__name__)

#: Failed grows are retried at most this far apart.
MAX_RETRY_S = 600.0


class Grower:
    """Runs the grow pipeline for volumes whose disk grew; see the module."""

    def __init__(self, grow_fn, runner):
        self.grow_fn = grow_fn
        self.runner = runner
        #: volume id -> earliest time of the next attempt after a failure
        self.next_attempt: typing.Dict[str, float] = {}

    def configure(self, conf) -> None:
        """(Re)read the ``[agent]`` retry options and the adaptive window."""
        self.dry_run = conf.agent.dry_run
        self.retry_s = conf.agent.grow_retry_s
        self.max_attempts = conf.agent.grow_max_attempts
        self.adaptive_window_s = conf.sizing.adaptive_window_s

    def grow_if_needed(self, vs, views, now: float, on_grown
                       ) -> typing.Optional[
                           typing.Tuple[protocol.RequestState, int]]:
        """Grow ``views`` (the volume's mounts) if its disk grew.

        Returns ``(GROWN, disk_bytes)`` after a grow, ``(FAILED,
        disk_bytes)`` when the last allowed attempt failed, else None.
        ``on_grown(view, now)`` is called for each grown mount.
        """
        if not views or self.dry_run:
            return None
        disk_bytes = max(v.mount.disk_bytes for v in views)
        if disk_bytes <= vs.disk_bytes:
            return None
        if now < self.next_attempt.get(vs.volume_id, 0.0):
            return None
        results = [self.grow_fn(v.mount, runner=self.runner) for v in views]
        failed = [r for r in results if not r.ok]
        if not failed and not any(r.changed for r in results):
            failed = results[:1]
            failed[0].failed_step = 'verify'
            failed[0].error = 'the filesystem did not grow'
        if failed:
            vs.grow_attempts += 1
            vs.last_error = 'grow %s' % failed[0].summary()
            delay = min(MAX_RETRY_S,
                        self.retry_s * 2 ** (vs.grow_attempts - 1))
            self.next_attempt[vs.volume_id] = now + delay
            LOG.warning('Volume %s: grow attempt %d failed (%s); retry in '
                        '%.0f s', vs.volume_id, vs.grow_attempts,
                        failed[0].summary(), delay)
            if vs.grow_attempts == self.max_attempts:
                return protocol.RequestState.FAILED, disk_bytes
            return None
        self.next_attempt.pop(vs.volume_id, None)
        vs.disk_bytes = disk_bytes
        vs.grow_attempts = 0
        vs.last_error = None
        vs.grow_timestamps = [t for t in vs.grow_timestamps
                              if now - t <= self.adaptive_window_s]
        vs.grow_timestamps.append(now)
        for view, result in zip(views, results):
            LOG.info('Volume %s: %s %s', vs.volume_id, view.mount.mountpoint,
                     result.summary())
            on_grown(view, now)
        return protocol.RequestState.GROWN, disk_bytes
