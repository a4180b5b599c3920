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

"""Extends an attached Cinder volume and waits until Cinder shows the outcome.

Usage::

    from vsm_authz import extend

    extender = extend.Extender(conf, cinder)
    outcome = extender.extend(volume_id, target_gb, issue=True,
                              volume=volume_read_under_the_same_locks)
    outcome.extended, outcome.size_gb, outcome.reason, outcome.message

``extend()`` sends ``os-extend`` (``OpenStack-API-Version: volume 3.42``,
needed for ``in-use`` volumes) unless the volume is already at the target
or already ``extending``, then polls the volume with exponential backoff
until a final status or :oslo.config:option:`extend.timeout`:

=============================  ===========================  ================
Cinder says                    outcome                      reason
=============================  ===========================  ================
in-use (or available), size    extended                     ok
>= target
``error_extending``            failed                       extend_error
413 on the request             failed                       quota
back to in-use at the old      failed (the scheduler        no_valid_backend
size after a 202               rolled back: NoValidBackend;
                               Cinder's user message is
                               quoted)
still ``extending`` at the     failed                       timeout
deadline
=============================  ===========================  ================

A 400 (another extend in flight, or a transient status) raises
:class:`ExtendBusy`; an unreachable Cinder raises
:class:`vsm_authz.clients.CloudUnavailable`. Both are transient: the caller
requeues the notification, and because the target size is absolute and the
volume is read first (or was read by the decision under the same locks),
doing it again never extends twice.

Call it while holding the volume's and the project's locks (see
:mod:`vsm_authz.drive`): the locks are what makes the next decision see
this extend in Cinder's size and quota usage.
"""

import dataclasses
import time
import typing

from oslo_config import cfg
from oslo_log import log as logging

from vsm_agent import protocol
from vsm_authz import clients

LOG = logging.getLogger(__name__)

_DONE_STATUSES = ('in-use', 'available')


class ExtendBusy(Exception):
    """Cinder refused the extend for now (400: already extending or a
    transient status). Retry later."""

    transient = True


@dataclasses.dataclass
class ExtendOutcome:
    """What Cinder finally showed."""

    extended: bool
    size_gb: int
    reason: str = protocol.Reason.OK
    message: str = ''


class Extender:
    """Cinder ``os-extend`` plus the wait for its outcome."""

    def __init__(self, conf: cfg.ConfigOpts, cinder: clients.CinderClient,
                 sleep=time.sleep, clock=time.monotonic):
        self.cinder = cinder
        self.timeout = conf.extend.timeout
        self.poll_interval = conf.extend.poll_interval
        self.poll_max_interval = conf.extend.poll_max_interval
        self._sleep = sleep
        self._clock = clock

    def extend(self, volume_id: str, target_gb: int, issue: bool = True,
               request_id: str = '',
               volume: typing.Optional[dict] = None) -> ExtendOutcome:
        """Bring the volume to ``target_gb``.

        :param issue: False to only wait for (or observe) an extend issued
            earlier, e.g. when resuming after a crash.
        :param volume: the volume as Cinder showed it under the same locks
            (the decision's read); None reads it first.
        """
        volume = volume or self._get(volume_id)
        size = int(volume['size'])
        if size >= target_gb and volume['status'] in _DONE_STATUSES:
            LOG.info('Volume %s already has %d GB (target %d), request %s',
                     volume_id, size, target_gb, request_id)
            return ExtendOutcome(True, size)
        if volume['status'] == 'error_extending':
            return self._error_extending(volume_id, size)
        if volume['status'] != 'extending':
            if not issue:
                return ExtendOutcome(False, size, protocol.Reason.EXTEND_ERROR,
                                     'volume is %s at %d GB, no extend in '
                                     'flight' % (volume['status'], size))
            try:
                self.cinder.extend_volume(volume_id, target_gb)
            except clients.OverQuota as exc:
                return ExtendOutcome(False, size, protocol.Reason.QUOTA,
                                     str(exc))
            except clients.BadRequest as exc:
                raise ExtendBusy('Cinder refused to extend volume %s now: %s'
                                 % (volume_id, exc)) from exc
            LOG.info('Extend of volume %s from %d to %d GB accepted, '
                     'request %s', volume_id, size, target_gb, request_id)
        return self._wait(volume_id, size, target_gb, request_id)

    def _get(self, volume_id: str) -> dict:
        volume = self.cinder.get_volume(volume_id)
        if volume is None:
            raise clients.NotFound('volume %s disappeared' % volume_id, 404)
        return volume

    def _wait(self, volume_id, old_size, target_gb, request_id):
        deadline = self._clock() + self.timeout
        delay = self.poll_interval
        while True:
            self._sleep(delay)
            volume = self._get(volume_id)
            size, status = int(volume['size']), volume['status']
            if status in _DONE_STATUSES:
                if size >= target_gb:
                    LOG.info('Volume %s extended to %d GB, request %s',
                             volume_id, size, request_id)
                    return ExtendOutcome(True, size)
                return self._rolled_back(volume_id, size)
            if status == 'error_extending':
                return self._error_extending(volume_id, size)
            if self._clock() > deadline:
                LOG.warning('Volume %s still %s after %.0fs, request %s',
                            volume_id, status, self.timeout, request_id)
                return ExtendOutcome(False, size, protocol.Reason.TIMEOUT,
                                     'volume still %s after %.0f s'
                                     % (status, self.timeout))
            delay = min(delay * 2, self.poll_max_interval)

    def _user_message(self, volume_id: str) -> str:
        messages = self.cinder.user_messages(volume_id)
        if not messages:
            return ''
        latest = max(messages, key=lambda m: m.get('created_at') or '')
        return latest.get('user_message') or ''

    def _rolled_back(self, volume_id, size):
        # The scheduler found no back end with room: Cinder rolled back
        # the quota, restored the status and left a user message.
        message = self._user_message(volume_id)
        reason = protocol.Reason.NO_VALID_BACKEND
        if message and 'valid' not in message.lower():
            reason = protocol.Reason.EXTEND_ERROR
        LOG.warning('Extend of volume %s was rolled back at %d GB: %s',
                    volume_id, size, message or 'no user message')
        return ExtendOutcome(False, size, reason,
                             message or 'extend rolled back by Cinder')

    def _error_extending(self, volume_id, size):
        message = self._user_message(volume_id)
        LOG.warning('Volume %s is error_extending: %s', volume_id,
                    message or 'no user message')
        return ExtendOutcome(False, size, protocol.Reason.EXTEND_ERROR,
                             message or 'Cinder set the volume to '
                             'error_extending')
