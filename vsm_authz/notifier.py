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

"""VSM's own notifications, for billing, alerting and dashboards.

Sent with an oslo.messaging ``Notifier`` on the service's notification
transport, so the usual options apply (``[oslo_messaging_notifications]
driver = messagingv2``, ``topics``; the exchange is ``control_exchange``,
``openstack`` by default, like Cinder's). Publisher id
``vsm-authz.<host>``.

========================== ========== ==================================
event_type                 priority   when
========================== ========== ==================================
``vsm.expansion.granted``  info       a request was granted (before the
                                      Cinder extend)
``vsm.expansion.denied``   warn       a request was denied (limit, quota,
                                      rules, invalid, ...)
``vsm.expansion.completed`` info      the guest acknowledged the grow
                                      (``st=grown``)
``vsm.expansion.failed``   error      the extend failed, or the guest
                                      could not grow
========================== ========== ==================================

Payload (all events)::

    {"request_id", "seq", "volume_id", "server_id", "project_id",
     "state", "reason", "message", "size_gb_at_request", "requested_gb",
     "granted_gb", "final_size_gb"}

Usage::

    notifier = ExpansionNotifier(conf)       # uses the notification transport
    notifier.granted(record)                 # any object with those attributes

A notification that cannot be sent is logged and dropped: it never fails a
request (the audit log is the record of truth).
"""

import socket

from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging as messaging

LOG = logging.getLogger(__name__)

PUBLISHER = 'vsm-authz'

_FIELDS = ('request_id', 'seq', 'volume_id', 'server_id', 'project_id',
           'state', 'reason', 'message', 'size_gb_at_request',
           'requested_gb', 'granted_gb', 'final_size_gb')


def payload_of(record) -> dict:
    """The notification payload for an expansion record."""
    return {name: getattr(record, name, None) for name in _FIELDS}


class ExpansionNotifier:
    """Sends ``vsm.expansion.*``; quiet if the driver is ``noop``."""

    def __init__(self, conf: cfg.ConfigOpts, transport=None):
        transport = transport or messaging.get_notification_transport(conf)
        self._notifier = messaging.Notifier(
            transport, publisher_id='%s.%s' % (PUBLISHER,
                                               socket.gethostname()))

    def _send(self, method: str, event: str, record) -> None:
        try:
            send = getattr(self._notifier, method)
            send({}, 'vsm.expansion.' + event, payload_of(record))
        except Exception:  # a lost notification must not fail a request
            LOG.exception('Could not send vsm.expansion.%s for request %s '
                          'of volume %s', event,
                          getattr(record, 'request_id', None),
                          getattr(record, 'volume_id', None))

    def granted(self, record) -> None:
        self._send('info', 'granted', record)

    def denied(self, record) -> None:
        self._send('warn', 'denied', record)

    def completed(self, record) -> None:
        self._send('info', 'completed', record)

    def failed(self, record) -> None:
        self._send('error', 'failed', record)
