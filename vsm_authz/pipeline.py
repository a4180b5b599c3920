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

"""validate → decide → execute → answer, for every ``vsm:`` entry of a server.

The listener and the reconciliation both hand a server to the pipeline;
the pipeline re-reads the server from Nova (the notification is only a
hint) and walks every volume entry of its metadata::

    from vsm_authz import pipeline

    flow = pipeline.Pipeline(conf, nova, cinder, locks, engine, notifier)
    flow.handle_notification(server_id, project_id, metadata_hint)
    flow.handle_server(server_dict)          # reconciliation, already listed
    flow.resume(record)                      # finish an in-flight record

Per volume entry:

* **invalid** ``vsm:req:`` value → audited; answered ``denied/invalid``
  only if the volume is attached to this server (Nova), never recorded;
* ``st=requested``, new → Nova must show the volume attached to this
  server (:mod:`vsm_authz.validation`), else audited and nothing written;
  then, under the locks, Cinder is read once and must agree (owner,
  attachment), the request is recorded
  (:func:`vsm_authz.db.expansions.record_request`; stale and replayed
  requests stop here, audited) and **driven** from that same read;
* ``st=grown`` / ``st=failed`` for an ``extended`` request → ``grown`` /
  ``failed`` (guest grow failed), ``vsm.expansion.completed`` / ``failed``;
* always: ``vsm:resp:`` is re-asserted from the database when it is
  missing or differs (lost updates, tampering).

*Driving* a record (:mod:`vsm_authz.drive`: facts, decision, extend)
happens under the volume lock, then the project lock
(always in that order), held from the decision until Cinder shows the
outcome of the extend: the next decision in the project then sees the new
size in Cinder's quota usage and in the project's volumes, so concurrent
requests on any number of workers never overshoot a limit. Whoever holds
the volume lock moves the record on from whatever state it is in
(``received`` → decide; ``granted``/``extending`` → extend or observe), so
a redelivered message, the reconciliation, or a restarted worker finish a
crashed worker's job, and the compare-and-set transitions make a second
driver harmless.

Answers are written and re-asserted by :mod:`vsm_authz.answers`, one
:class:`vsm_authz.answers.Answers` per pass over a server.

Errors: the transient ones (:func:`vsm_authz.errors.is_transient`: a cloud,
Keystone, the locks or the database unreachable, Cinder busy) propagate
and mean "try this notification again later"; the listener requeues.
Everything else about a request is an answer, written to ``vsm:resp:`` and
the audit log.
"""

import time
import typing

from oslo_config import cfg
from oslo_log import log as logging

from vsm_agent import protocol
from vsm_authz import answers
from vsm_authz import audit
from vsm_authz import clients
from vsm_authz.db import expansions
from vsm_authz.db import states
from vsm_authz import drive
from vsm_authz import extend
from vsm_authz import facts
from vsm_authz import validation

LOG = logging.getLogger(__name__)

State = states.RecordState

#: How long a duplicate waits for a volume lock before concluding that
#: another driver is answering the request.
BUSY_PROBE_SECONDS = 0.5


class Pipeline:
    """One per worker process; thread safe (the listener's executor calls
    it from many threads)."""

    def __init__(self, conf: cfg.ConfigOpts, nova: clients.NovaClient,
                 cinder: clients.CinderClient, locks, engine, notifier,
                 extender: typing.Optional[extend.Extender] = None,
                 policy_for=None, clock=time.time):
        self.nova = nova
        self.cinder = cinder
        self.validator = validation.Validator(nova)
        self.clock = clock
        self.projects = frozenset(conf.pipeline.projects)
        self.trail = audit.Trail()
        self.driver = drive.Driver(
            locks, nova, cinder, engine, notifier, self.trail,
            facts.Gatherer(conf, cinder, policy_for, clock),
            extender or extend.Extender(conf, cinder))
        self.drive = self.resume = self.driver.drive

    # ----------------------------------------------------------- entries --

    def handle_notification(self, server_id: str,
                            project_id: typing.Optional[str],
                            metadata_hint: typing.Optional[dict] = None
                            ) -> None:
        """A notification said the server's metadata changed."""
        if self.projects and project_id not in self.projects:
            return
        if metadata_hint is not None and self.settled(server_id,
                                                      metadata_hint):
            LOG.debug('Server %s: nothing to do for its vsm: keys',
                      server_id)
            return
        try:
            server = self.validator.server(server_id, project_id)
        except validation.Rejection as exc:
            self.trail.add('request.rejected', {'server_id': server_id,
                                                'project_id': project_id},
                           once=('server', server_id, exc.reason),
                           reason=exc.reason, detail=exc.message)
            LOG.warning('Ignoring notification for server %s: %s',
                        server_id, exc.message)
            return
        self._handle(server)

    def handle_server(self, server: dict) -> None:
        """A server dict from Nova's listing (the reconciliation)."""
        if self.projects and server['tenant_id'] not in self.projects:
            return
        self._handle(validation.ServerFacts(
            server_id=server['id'], project_id=server['tenant_id'],
            metadata=dict(server.get('metadata') or {})))

    def settled(self, server_id: str, metadata: dict) -> bool:
        """True if the metadata shows nothing the service must act on.

        Our own ``vsm:resp:`` writes make Nova notify too; this check on
        the notification's copy (database reads only) spares a Nova round
        trip for each of them. Any change that needs work comes with its
        own, later notification, so a stale copy is never the last word.
        """
        for volume_id, entry in protocol.read_metadata(metadata).items():
            if entry.errors:
                return False
            request = entry.request
            if request is None:
                continue
            record = expansions.get_request(volume_id, request.request_id)
            if record is None or record.server_id != server_id:
                return False
            if record.state == State.RECEIVED or \
                    record.state in states.IN_FLIGHT_STATES:
                # Maybe a live driver holds the locks, maybe a transient
                # error sent this message back: drive (waits on the lock).
                return False
            if (request.state is not protocol.RequestState.REQUESTED
                    and record.state == State.EXTENDED):
                return False  # an acknowledgement to record
            if not answers.same_answer(answers.response_for(record),
                                       entry.response):
                return False
        return True

    def _handle(self, server: validation.ServerFacts) -> None:
        out = answers.Answers(self.nova)
        for volume_id, entry in protocol.read_metadata(
                server.metadata).items():
            if not volume_id:
                for key, error in entry.errors.items():
                    self.trail.add('request.invalid', audit.ids(server),
                                   once=(server.server_id, key,
                                         server.metadata.get(key)),
                                   reason=protocol.Reason.INVALID,
                                   detail={'key': key[:255],
                                           'code': error.code,
                                           'error': str(error)})
                continue
            self._handle_volume(server, entry, out)

    def _handle_volume(self, server, entry: protocol.VolumeEntry,
                       out: answers.Answers) -> None:
        request_key = protocol.REQUEST_PREFIX + entry.volume_id
        if request_key in entry.errors:
            self._answer_invalid(server, entry, request_key, out)
            return
        request = entry.request
        if request is None:
            return
        if request.state is protocol.RequestState.REQUESTED:
            record = self._handle_request(server, request, out)
        else:
            record = self._handle_ack(server, request)
        if record is not None:
            out.reassert(server.server_id, record, entry.response)

    def _answer_invalid(self, server, entry, key, out) -> None:
        raw = server.metadata.get(key)
        error = entry.errors[key]
        first = self.trail.first((server.server_id, key, raw))
        attached = self.validator.is_attached(server, entry.volume_id)
        if first:
            answer = answers.invalid_answer(entry.volume_id, raw, 0, 0)
            self.trail.add('request.invalid',
                           audit.ids(server, answer),
                           reason=protocol.Reason.INVALID,
                           detail={'code': error.code, 'error': str(error),
                                   'attached': attached})
            LOG.warning('Invalid request on server %s volume %s: %s',
                        server.server_id, entry.volume_id, error)
        if not attached:
            return
        volume = self.cinder.get_volume(entry.volume_id)
        answer = answers.invalid_answer(
            entry.volume_id, raw, int(volume['size']) if volume else 0,
            int(self.clock()))
        if not answers.same_answer(answer, entry.response):
            out.write(server.server_id, answer)

    # ---------------------------------------------------------- requests --

    def _handle_request(self, server, request, out):
        record = expansions.get_request(request.volume_id, request.request_id)
        if record is not None and record.server_id != server.server_id:
            self.trail.add('request.replayed',
                           audit.ids(server, request),
                           once=(server.server_id, request.request_id,
                                 'foreign'), reason=protocol.Reason.INVALID,
                           detail='request id already used on server %s'
                                  % record.server_id)
            return None
        if record is None:
            try:
                self.validator.check_attached(server, request.volume_id)
            except validation.Rejection as exc:
                self._reject(server, request, exc)
                return None
            return self._receive(server, request, out)
        if record.final or record.state == State.PENDING:
            return record
        # A duplicate (or the notification of our own answer) for a record
        # in flight: if its driver holds the volume lock it will answer;
        # only a record nobody drives (a crash, a requeue) is ours to move.
        return self.drive(record, request,
                          volume_lock_timeout=BUSY_PROBE_SECONDS, out=out)

    def _receive(self, server, request, out):
        """Record a new request and drive it, under the locks from the one
        Cinder read of the volume to the end of its extend."""
        volume_id, request_id = request.volume_id, request.request_id
        ids = audit.ids(server, request)
        with self.driver.locked(volume_id, server.project_id):
            record = expansions.get_request(volume_id, request_id)
            if record is not None:  # a duplicate recorded it meanwhile
                return self.driver.move_on(record, request, None, out)
            volume = self.cinder.get_volume(volume_id)
            try:
                validation.check_cinder_volume(
                    server.server_id, server.project_id, volume_id, volume)
            except validation.Rejection as exc:
                self._reject(server, request, exc)
                return None
            size = int(volume['size'])
            try:
                record, created = expansions.record_request(
                    request, server.server_id, server.project_id, size)
            except (expansions.StaleRequest, expansions.ReplayedRequest) as exc:
                event = ('request.stale' if isinstance(
                    exc, expansions.StaleRequest) else 'request.replayed')
                self.trail.add(event, ids,
                               once=(server.server_id, request_id, event),
                               reason=protocol.Reason.INVALID, detail=str(exc))
                LOG.warning('Server %s volume %s request %s: %s',
                            server.server_id, volume_id, request_id, exc)
                return expansions.latest_request(volume_id)
            if created:
                LOG.info('Request %s seq %d: server %s volume %s wants %d '
                         'GB (Cinder: %d GB)', request_id, request.seq,
                         server.server_id, volume_id, request.requested_gb,
                         size)
                self.trail.add('request.received', ids,
                               detail={'seq': request.seq,
                                       'want': request.requested_gb,
                                       'cur': request.current_gb,
                                       'size': size, 'why': request.reason})
            return self.driver.move_on(record, request, volume, out)

    def _reject(self, server, request, exc) -> None:
        """Neither recorded nor answered: audited once."""
        self.trail.add('request.rejected',
                       audit.ids(server, request),
                       once=(server.server_id, request.request_id, exc.reason),
                       reason=exc.reason, detail=exc.message)
        LOG.warning('Rejected request %s of server %s for volume %s: %s',
                    request.request_id, server.server_id, request.volume_id,
                    exc.message)

    # --------------------------------------------------- acknowledgements --

    def _handle_ack(self, server, request):
        record = expansions.get_request(request.volume_id, request.request_id)
        if record is None or record.server_id != server.server_id:
            self.trail.add('ack.unknown',
                           audit.ids(server, request),
                           once=(server.server_id, request.request_id, 'ack'),
                           reason=protocol.Reason.INVALID,
                           detail='acknowledgement of an unknown request')
            return expansions.latest_request(request.volume_id) \
                if record is None else None
        if record.state != State.EXTENDED:
            return record
        if request.state is protocol.RequestState.GROWN:
            return self.driver.step(
                record, State.GROWN, 'request.completed', notify='completed',
                audit_reason=protocol.Reason.GROWN,
                detail={'guest_size_gb': request.current_gb})
        return self.driver.step(
            record, State.FAILED, 'request.grow_failed', notify='failed',
            detail=request.reason, reason=protocol.Reason.GROW_FAILED,
            message='the guest could not grow the file system (%s)'
                    % request.reason)
