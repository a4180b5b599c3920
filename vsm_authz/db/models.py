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

"""The tables of VSM's state.

================== ==========================================================
table              one row per
================== ==========================================================
``volumes``        volume VSM has seen: its first-seen size (the runaway
                   baseline) and the highest request ``seq`` (replay guard)
``expansion_requests``  ``(volume_id, request_id)``: the request as the
                   guest sent it, the service's state machine and outcome
``audit_log``      event, append only
``policy_overrides``  project that overrides the configured expansion policy
================== ==========================================================

Grants are not a table of their own: a grant is an expansion request with
``granted_at`` set, so one row carries the whole story of a request.

Change a model only together with a new alembic revision in
``migrations/versions`` (the unit tests compare both).
"""

import sqlalchemy as sa
from sqlalchemy import orm

# 36-character UUIDs and 32-hex request ids; ids from Keystone may be
# 32 or 36 characters, 64 leaves room for LDAP-backed domains.
_UUID = sa.String(36)
_ID = sa.String(64)


class Base(orm.DeclarativeBase):
    pass


class Volume(Base):
    """What VSM remembers about a volume across requests."""

    __tablename__ = 'volumes'

    volume_id = sa.Column(_UUID, primary_key=True)
    project_id = sa.Column(_ID, nullable=False, index=True)
    server_id = sa.Column(_UUID, nullable=True)
    #: Cinder size when VSM first saw the volume: the runaway-cap baseline.
    original_size_gb = sa.Column(sa.Integer, nullable=False)
    #: Highest request seq accepted for the volume (seq must grow).
    highest_seq = sa.Column(sa.Integer, nullable=False, default=0)
    created_at = sa.Column(sa.DateTime, nullable=False)
    updated_at = sa.Column(sa.DateTime, nullable=False)


class ExpansionRequest(Base):
    """One guest request and what the service did with it."""

    __tablename__ = 'expansion_requests'
    __table_args__ = (
        sa.UniqueConstraint('volume_id', 'request_id',
                            name='uniq_expansion_requests0volume0request'),
        sa.Index('expansion_requests_state_idx', 'state', 'updated_at'),
        sa.Index('expansion_requests_volume_granted_idx',
                 'volume_id', 'granted_at'),
        sa.Index('expansion_requests_project_idx', 'project_id'),
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    volume_id = sa.Column(_UUID, nullable=False)
    request_id = sa.Column(sa.String(32), nullable=False)
    seq = sa.Column(sa.Integer, nullable=False)
    server_id = sa.Column(_UUID, nullable=False)
    project_id = sa.Column(_ID, nullable=False)
    # As the guest wrote them (untrusted, kept for the audit trail).
    guest_current_gb = sa.Column(sa.Integer, nullable=False)
    requested_gb = sa.Column(sa.Integer, nullable=False)
    request_reason = sa.Column(sa.String(24), nullable=False)
    request_timestamp = sa.Column(sa.Integer, nullable=False)
    #: Cinder's real size when the request was recorded.
    size_gb_at_request = sa.Column(sa.Integer, nullable=False)
    state = sa.Column(sa.String(16), nullable=False)
    reason = sa.Column(sa.String(24), nullable=True)
    message = sa.Column(sa.String(1024), nullable=True)
    retry_after = sa.Column(sa.Integer, nullable=True)
    granted_gb = sa.Column(sa.Integer, nullable=True)
    granted_at = sa.Column(sa.DateTime, nullable=True)
    #: False when a human approved a pending request.
    automatic = sa.Column(sa.Boolean, nullable=True)
    final_size_gb = sa.Column(sa.Integer, nullable=True)
    created_at = sa.Column(sa.DateTime, nullable=False)
    updated_at = sa.Column(sa.DateTime, nullable=False)


class AuditEntry(Base):
    """One line of the append-only audit trail."""

    __tablename__ = 'audit_log'
    __table_args__ = (
        sa.Index('audit_log_volume_idx', 'volume_id', 'id'),
        sa.Index('audit_log_project_idx', 'project_id', 'id'),
        sa.Index('audit_log_request_idx', 'request_id'),
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    at = sa.Column(sa.DateTime, nullable=False)
    event = sa.Column(sa.String(64), nullable=False)
    request_id = sa.Column(sa.String(32), nullable=True)
    volume_id = sa.Column(_UUID, nullable=True)
    server_id = sa.Column(_UUID, nullable=True)
    project_id = sa.Column(_ID, nullable=True)
    reason = sa.Column(sa.String(24), nullable=True)
    detail = sa.Column(sa.Text, nullable=True)


class PolicyOverride(Base):
    """A project's overrides of the configured expansion policy (JSON)."""

    __tablename__ = 'policy_overrides'

    project_id = sa.Column(_ID, primary_key=True)
    overrides = sa.Column(sa.Text, nullable=False)
    updated_at = sa.Column(sa.DateTime, nullable=False)
