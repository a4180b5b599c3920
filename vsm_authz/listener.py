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

"""Consumes Nova's ``instance.update`` notifications and feeds the pipeline.

Nova tells nobody which metadata key changed; it sends the whole metadata
dict after every write, from nova-api, on exchange ``nova``. Nova must be
configured to send them on a topic of VSM's own (``nova.conf`` of the API
nodes)::

    [notifications]
    notify_on_state_change = vm_state          # default: nothing is sent
    notification_format = both                 # or versioned / unversioned
    versioned_notifications_topics = versioned_notifications,vsm_notifications
    [oslo_messaging_notifications]
    driver = messagingv2
    topics = notifications,vsm_notifications   # legacy format

and VSM listens on ``Target(exchange='nova', topic='vsm_notifications')``
**without a pool**: every worker (process) consumes from the same queue
``vsm_notifications.info`` and the broker hands each message to one of
them. (With a pool, each pool would get a copy and the shared queue
nobody reads would grow forever.)

Usage::

    from vsm_authz import listener

    server = listener.build_listener(conf, flow)   # oslo.messaging listener
    server.start()
    ...
    server.stop(); server.wait()                   # finishes in-flight work

Handling, per message (:class:`InstanceUpdateEndpoint`):

1. cheap filter, no I/O: the event type (``instance.update`` versioned,
   ``compute.instance.update`` legacy), then any metadata key starting
   with ``vsm:req:``; everything else is acknowledged at once (this is the
   fleet-wide hot path: every state change of every VM lands here);
2. :meth:`vsm_authz.pipeline.Pipeline.handle_notification` with the
   server id, the project and the notification's metadata (a hint: the
   pipeline re-reads the server from Nova before acting).

Delivery semantics: at least once, out of order, in parallel (the
``threading`` executor, ``[DEFAULT] executor_thread_pool_size`` threads).
The pipeline is idempotent, so duplicates are harmless. A handler result
of ``REQUEUE`` (Keystone/Nova/Cinder unreachable, a lock or DB timeout —
:func:`vsm_authz.errors.is_transient`) puts the message back after a
short pause; anything else that goes wrong is a *poison* message: logged,
audited as ``notification.poison`` and acknowledged, so it can never
wedge a worker.
"""

import time

from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging as messaging

from vsm_agent import protocol
from vsm_authz.db import audit_log
from vsm_authz import errors
from vsm_authz import pipeline

LOG = logging.getLogger(__name__)


def server_of(event_type: str, payload) -> tuple:
    """``(server_id, project_id, metadata)`` from either format, or
    ``(None, None, None)`` for payloads of another shape."""
    if not isinstance(payload, dict):
        return None, None, None
    data = payload.get('nova_object.data')
    if isinstance(data, dict):
        return data.get('uuid'), data.get('tenant_id'), data.get('metadata')
    return (payload.get('instance_id'), payload.get('tenant_id'),
            payload.get('metadata'))


def has_request_key(metadata) -> bool:
    """The hot-path test: does this metadata dict carry a VSM request?"""
    if not metadata or not isinstance(metadata, dict):
        return False
    for key in metadata:
        if isinstance(key, str) and key.startswith(protocol.REQUEST_PREFIX):
            return True
    return False


class InstanceUpdateEndpoint:
    """oslo.messaging endpoint: ``info`` priority only (Nova sends
    instance updates at INFO)."""

    def __init__(self, flow: pipeline.Pipeline, event_types,
                 requeue_delay: float = 1.0, audit=None):
        self.flow = flow
        self.event_types = frozenset(event_types)
        self.requeue_delay = requeue_delay
        self._audit = audit or audit_log.audit
        #: counters for the benchmark and the logs
        self.seen = 0
        self.handled = 0

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.seen += 1
        if event_type not in self.event_types:
            return messaging.NotificationResult.HANDLED
        server_id, project_id, server_metadata = server_of(event_type,
                                                           payload)
        if not has_request_key(server_metadata):
            return messaging.NotificationResult.HANDLED
        self.handled += 1
        message_id = (metadata or {}).get('message_id')
        try:
            if not isinstance(server_id, str) or not server_id:
                raise ValueError('notification without a server id')
            self.flow.handle_notification(server_id, project_id,
                                          server_metadata)
        except Exception as exc:
            if errors.is_transient(exc):
                LOG.warning('Transient error on server %s (message %s), '
                            'requeueing: %s', server_id, message_id, exc)
                time.sleep(self.requeue_delay)
                return messaging.NotificationResult.REQUEUE
            LOG.exception('Dropping poison message %s about server %s',
                          message_id, server_id)
            try:
                self._audit('notification.poison',
                            server_id=server_id if isinstance(
                                server_id, str) else None,
                            project_id=project_id if isinstance(
                                project_id, str) else None,
                            reason=protocol.Reason.INVALID,
                            detail={'event_type': event_type,
                                    'message_id': message_id,
                                    'error': '%s: %s' % (
                                        type(exc).__name__, exc)})
            except Exception:
                LOG.exception('Could not audit poison message %s',
                              message_id)
        return messaging.NotificationResult.HANDLED


def build_listener(conf: cfg.ConfigOpts, flow: pipeline.Pipeline,
                   transport=None, endpoint=None):
    """An oslo.messaging notification listener (not started) that feeds
    ``flow``; one per worker process."""
    transport = transport or messaging.get_notification_transport(conf)
    targets = [messaging.Target(exchange=conf.listener.exchange, topic=topic)
               for topic in conf.listener.topics]
    endpoint = endpoint or InstanceUpdateEndpoint(
        flow, conf.listener.event_types, conf.listener.requeue_delay)
    # No pool by default: all workers compete on the topic's one queue.
    return messaging.get_notification_listener(
        transport, targets, [endpoint], executor='threading',
        allow_requeue=True, pool=conf.listener.pool)
