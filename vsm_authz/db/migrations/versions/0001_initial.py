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

"""Initial schema: volumes, expansion requests, audit log, policy overrides.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-25
"""

from alembic import op
import sqlalchemy as sa

revision = '0001_initial'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'volumes',
        sa.Column('volume_id', sa.String(36), primary_key=True),
        sa.Column('project_id', sa.String(64), nullable=False),
        sa.Column('server_id', sa.String(36), nullable=True),
        sa.Column('original_size_gb', sa.Integer, nullable=False),
        sa.Column('highest_seq', sa.Integer, nullable=False),
        sa.Column('created_at', sa.DateTime, nullable=False),
        sa.Column('updated_at', sa.DateTime, nullable=False),
    )
    op.create_index('ix_volumes_project_id', 'volumes', ['project_id'])

    op.create_table(
        'expansion_requests',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('volume_id', sa.String(36), nullable=False),
        sa.Column('request_id', sa.String(32), nullable=False),
        sa.Column('seq', sa.Integer, nullable=False),
        sa.Column('server_id', sa.String(36), nullable=False),
        sa.Column('project_id', sa.String(64), nullable=False),
        sa.Column('guest_current_gb', sa.Integer, nullable=False),
        sa.Column('requested_gb', sa.Integer, nullable=False),
        sa.Column('request_reason', sa.String(24), nullable=False),
        sa.Column('request_timestamp', sa.Integer, nullable=False),
        sa.Column('size_gb_at_request', sa.Integer, nullable=False),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('reason', sa.String(24), nullable=True),
        sa.Column('message', sa.String(1024), nullable=True),
        sa.Column('retry_after', sa.Integer, nullable=True),
        sa.Column('granted_gb', sa.Integer, nullable=True),
        sa.Column('granted_at', sa.DateTime, nullable=True),
        sa.Column('automatic', sa.Boolean, nullable=True),
        sa.Column('final_size_gb', sa.Integer, nullable=True),
        sa.Column('created_at', sa.DateTime, nullable=False),
        sa.Column('updated_at', sa.DateTime, nullable=False),
        sa.UniqueConstraint('volume_id', 'request_id',
                            name='uniq_expansion_requests0volume0request'),
    )
    op.create_index('expansion_requests_state_idx', 'expansion_requests',
                    ['state', 'updated_at'])
    op.create_index('expansion_requests_volume_granted_idx',
                    'expansion_requests', ['volume_id', 'granted_at'])
    op.create_index('expansion_requests_project_idx', 'expansion_requests',
                    ['project_id'])

    op.create_table(
        'audit_log',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('at', sa.DateTime, nullable=False),
        sa.Column('event', sa.String(64), nullable=False),
        sa.Column('request_id', sa.String(32), nullable=True),
        sa.Column('volume_id', sa.String(36), nullable=True),
        sa.Column('server_id', sa.String(36), nullable=True),
        sa.Column('project_id', sa.String(64), nullable=True),
        sa.Column('reason', sa.String(24), nullable=True),
        sa.Column('detail', sa.Text, nullable=True),
    )
    op.create_index('audit_log_volume_idx', 'audit_log', ['volume_id', 'id'])
    op.create_index('audit_log_project_idx', 'audit_log',
                    ['project_id', 'id'])
    op.create_index('audit_log_request_idx', 'audit_log', ['request_id'])

    op.create_table(
        'policy_overrides',
        sa.Column('project_id', sa.String(64), primary_key=True),
        sa.Column('overrides', sa.Text, nullable=False),
        sa.Column('updated_at', sa.DateTime, nullable=False),
    )
