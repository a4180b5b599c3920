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

"""Cinder quota headroom: the extend must fit the project's Cinder
quotas, or Cinder refuses it with 413 after we already said yes."""

from vsm_agent import protocol
from vsm_authz.rules import base


def _entry(quota, name):
    """``(limit, in_use, reserved)`` of one quota, or None if absent.

    Cinder gives a dict with ``usage=True`` and a bare int without it.
    """
    value = quota.get(name) if quota else None
    if value is None:
        return None
    if isinstance(value, dict):
        return (int(value.get('limit', -1)), int(value.get('in_use', 0)),
                int(value.get('reserved', 0)))
    return int(value), 0, 0


class CinderQuotaRule(base.Rule):
    """Fit the grant into ``gigabytes``, ``gigabytes_<volume type>`` and
    ``per_volume_gigabytes`` (limit -1 = unlimited; absent = not checked).

    Headroom of a total quota = limit − in_use − reserved; the largest
    allowed target is ``size + headroom``; ``per_volume_gigabytes``
    bounds the target itself.

    ========================================= ==========================
    fact                                       decision
    ========================================= ==========================
    target fits every quota                    pass
    it doesn't, but >= max(min_step_gb, 1)     clamp target to what fits
    GiB do                                     (a smaller grant now beats
                                               a denial)
    not even that fits                         deny ``quota`` (stop: the
                                               tenant must raise it)
    ========================================= ==========================
    """

    name = 'cinder_quota'

    def apply(self, ctx, target_gb):
        size = ctx.volume.size_gb
        allowed, binding = target_gb, None
        names = ['gigabytes']
        if ctx.volume.volume_type:
            names.append('gigabytes_%s' % ctx.volume.volume_type)
        for name in names:
            entry = _entry(ctx.quota, name)
            if entry is None or entry[0] < 0:
                continue
            limit, in_use, reserved = entry
            fits = size + max(limit - in_use - reserved, 0)
            if fits < allowed:
                allowed, binding = fits, (name, limit, in_use, reserved)
        entry = _entry(ctx.quota, 'per_volume_gigabytes')
        if entry is not None and 0 <= entry[0] < allowed:
            allowed, binding = entry[0], ('per_volume_gigabytes',) + entry
        if binding is None:
            return target_gb
        if allowed - size >= max(ctx.policy.min_step_gb, 1):
            return allowed
        name, limit, in_use, reserved = binding
        return self.deny(
            ctx, protocol.Reason.QUOTA,
            'Cinder quota %s of project %s leaves no room to grow volume %s '
            'from %d GiB (limit %d, in use %d, reserved %d, asked %d GiB)'
            % (name, ctx.volume.project_id, ctx.volume.volume_id, size,
               limit, in_use, reserved, target_gb))
