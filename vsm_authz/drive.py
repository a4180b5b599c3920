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

"""Moves an expansion record on, under its volume and project locks.

:class:`vsm_authz.pipeline.Pipeline` hands a record to the driver once it
is recorded (or found in flight); the reconciliation hands it records
that were left in flight::

    driver.drive(record)                      # takes the locks itself
    with driver.locked(volume_id, project_id):
        driver.move_on(record, request, volume, out)

From ``received``: the facts are gathered (:mod:`vsm_authz.facts`, from the
volume read under these locks) and the engine decides; a grant is answered
at once, then from ``granted``/``extending`` the volume is extended
(:mod:`vsm_authz.extend`) and the outcome answered. Each move is one
:meth:`Driver.step`: a compare-and-set transition and, only when this
driver made it, its audit row, its ``vsm:resp:`` answer and its
notification. A second driver that lost the race goes on from the state it
finds, so redeliveries, the reconciliation and restarted workers are
harmless.
"""

import contextlib

from oslo_log import log as logging

from vsm_agent import protocol
from vsm_authz import answers
from vsm_authz import audit
from vsm_authz.db import expansions
from vsm_authz.db import states
from vsm_authz import locks
from vsm_authz import validation

LOG = logging.getLogger(__name__)

State = states.RecordState


class Driver:
    """Thread safe; one per pipeline."""

    def __init__(self, locks, nova, cinder, engine, notifier, trail,
                 gatherer, extender):
        self.locks = locks
        self.nova = nova
        self.cinder = cinder
        self.engine = engine
        self.notifier = notifier
        self.trail = trail
        self.facts = gatherer
        self.extender = extender

    @contextlib.contextmanager
    def locked(self, volume_id, project_id, volume_lock_timeout=None):
        # Volume first, then project: the one global order of
        # vsm_authz.locks (no deadlock), and a duplicate waiting for the
        # volume does not hold up the rest of the project.
        with self.locks.volume(volume_id, timeout=volume_lock_timeout):
            with self.locks.project(project_id):
                yield

    def drive(self, record, request=None, volume_lock_timeout=None,
              out=None):
        """Move a record on from its current state, under the locks.

        With ``volume_lock_timeout``, give up (return None) if another
        driver holds the volume for longer: it is moving this record on.
        """
        out = out or answers.Answers(self.nova)
        try:
            with self.locked(record.volume_id, record.project_id,
                             volume_lock_timeout):
                return self.move_on(expansions.get_request(
                    record.volume_id, record.request_id), request, None, out)
        except locks.LockTimeout:
            if volume_lock_timeout is None:
                raise
            LOG.debug('Request %s of volume %s is being driven elsewhere',
                      record.request_id, record.volume_id)
            return None

    resume = drive

    def move_on(self, record, request, volume, out):
        """Under the locks: decide, then extend. ``volume`` is Cinder's
        view of the volume read under these locks, if any."""
        if record.state == State.RECEIVED:
            if volume is None:
                volume = self.cinder.get_volume(record.volume_id)
                try:
                    validation.check_cinder_volume(
                        record.server_id, record.project_id,
                        record.volume_id, volume)
                except validation.Rejection:
                    return self.step(
                        record, State.DENIED, 'request.denied', out,
                        reason=protocol.Reason.NOT_ATTACHED,
                        message='volume no longer attached to the server')
            record = self._decide(
                self.facts.context(record, request, volume), record, out)
        else:
            volume = None  # read before this driver held the locks
        if record.state in states.IN_FLIGHT_STATES:
            record = self._execute(record, volume, out)
        return record

    def _decide(self, context, record, out):
        decision = self.engine.decide(context)
        LOG.info('Decision for request %s (server %s volume %s): %s %s GB, '
                 '%s (%s)', record.request_id, record.server_id,
                 record.volume_id, decision.outcome, decision.size_gb,
                 decision.reason, decision.rule)
        self.trail.add('request.decided', audit.ids(record),
                       reason=decision.reason,
                       detail={'outcome': decision.outcome,
                               'size_gb': decision.size_gb,
                               'rule': decision.rule,
                               'message': decision.message,
                               'cinder_size_gb': context.volume.size_gb})
        if decision.outcome == 'grant':
            # Answered before the extend: the agent knows a change comes.
            return self.step(record, State.GRANTED, 'request.granted', out,
                             notify='granted',
                             detail={'granted_gb': decision.size_gb},
                             reason=decision.reason or protocol.Reason.OK,
                             message=decision.message,
                             granted_gb=decision.size_gb)
        if decision.outcome == 'pending':
            return self.step(record, State.PENDING, None, out,
                             reason=decision.reason,
                             message=decision.message,
                             granted_gb=decision.size_gb)
        # deny (dry-run grants come back from the engine as denials)
        return self.step(record, State.DENIED, 'request.denied', out,
                         notify='denied', detail=decision.message,
                         reason=decision.reason, message=decision.message,
                         retry_after=decision.retry_after,
                         final_size_gb=context.volume.size_gb)

    def _execute(self, record, volume, out):
        if record.state == State.GRANTED:
            record = self._transition(record, State.EXTENDING)
            if record.state != State.EXTENDING:
                return record
        outcome = self.extender.extend(record.volume_id, record.granted_gb,
                                       request_id=record.request_id,
                                       volume=volume)
        if outcome.extended:
            return self.step(record, State.EXTENDED, 'extend.done', out,
                             audit_reason=protocol.Reason.OK,
                             detail={'size_gb': outcome.size_gb},
                             final_size_gb=outcome.size_gb)
        return self.step(record, State.FAILED, 'extend.failed', out,
                         notify='failed', detail=outcome.message,
                         reason=outcome.reason, message=outcome.message,
                         final_size_gb=outcome.size_gb)

    # -------------------------------------------------------------- steps --

    def _transition(self, record, state, **fields):
        try:
            return expansions.transition(
                record.volume_id, record.request_id, state,
                expected_states=(record.state,), **fields)
        except expansions.InvalidTransition as exc:
            # Another driver moved it (e.g. an operator denied it through
            # the API): go on from where it is.
            LOG.info('Request %s of volume %s moved to %s meanwhile',
                     record.request_id, record.volume_id, exc.current_state)
            return expansions.get_request(record.volume_id,
                                          record.request_id)

    def step(self, record, state, event, out=None, notify=None,
             detail=None, audit_reason=None, **fields):
        """Move ``record`` to ``state`` (``fields`` go to the database);
        if this driver did, audit ``event``, write the answer through
        ``out`` and send the ``notify`` notification."""
        record = self._transition(record, state, **fields)
        if record.state != state:
            return record
        LOG.info('Request %s of server %s volume %s is %s: %s',
                 record.request_id, record.server_id, record.volume_id,
                 state, record.message or record.reason)
        if event:
            self.trail.add(event, audit.ids(record), detail=detail,
                           reason=audit_reason or fields.get('reason'))
        if out is not None:
            out.write(record.server_id, answers.response_for(record))
        if notify:
            getattr(self.notifier, notify)(record)
        return record
