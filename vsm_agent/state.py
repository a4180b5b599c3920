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

"""The state file: what survives a restart of the agent.

One JSON file (``[agent] state_dir``/state.json, default
``/var/lib/vsm-agent``) holds, per volume id, a
:class:`vsm_agent.lifecycle.VolumeState`:
the last sequence number (``seq`` must keep growing across restarts, or
the service would take a new request for a stale one), the request in
flight (encoded exactly as written to Nova, so it can be re-asserted),
the last answer, whether the volume is **denied** (the agent stops asking
until the answer changes — a reboot must not lift a denial), the times of
recent grows (for adaptive sizing) and the last error.

Writes are atomic (temporary file, fsync, rename) and happen only when
something changed, so a crash leaves either the old or the new state,
never half of one. A corrupt file is moved aside (``state.json.corrupt``)
and the agent starts fresh, logging it; the service's ``seq`` check then
rejects nothing it should accept, because a fresh agent starts from the
``seq`` it finds in the metadata (see :meth:`lifecycle.Lifecycle.seed`).

Use it like this::

    store = state.StateStore('/var/lib/vsm-agent')
    vol = store.volume('6f1c...')     # created on first use
    vol.phase = lifecycle.REQUESTED; store.save()
"""

import json
import logging
import os
import tempfile
import typing

from vsm_agent import lifecycle

LOG = logging.getLogger(__name__)

STATE_FILE = 'state.json'
FORMAT_VERSION = 1


class StateStore:
    """The agent's state file: load once, save atomically on change."""

    def __init__(self, state_dir: str):
        self.state_dir = state_dir
        self.path = os.path.join(state_dir, STATE_FILE)
        self.volumes: typing.Dict[str, lifecycle.VolumeState] = {}
        #: serial prefix -> full volume id learned from Nova
        self.volume_ids: typing.Dict[str, str] = {}
        self._saved: typing.Optional[str] = None
        self._saved_fingerprint: typing.Optional[tuple] = None
        self.load()

    def load(self) -> None:
        try:
            with open(self.path) as f:
                text = f.read()
        except FileNotFoundError:
            return
        except OSError as exc:
            LOG.warning('Cannot read state file %s: %s', self.path, exc)
            return
        try:
            data = json.loads(text)
            volumes = {vid: lifecycle.VolumeState.from_json(v)
                       for vid, v in data.get('volumes', {}).items()}
            ids = dict(data.get('volume_ids', {}))
        except (ValueError, TypeError, AttributeError) as exc:
            aside = self.path + '.corrupt'
            LOG.error('State file %s is corrupt (%s); moved to %s, '
                      'starting fresh', self.path, exc, aside)
            try:
                os.replace(self.path, aside)
            except OSError:
                pass
            return
        self.volumes, self.volume_ids = volumes, ids
        self._saved = self._serialize()
        self._saved_fingerprint = self._fingerprint()

    def volume(self, volume_id: str) -> lifecycle.VolumeState:
        if volume_id not in self.volumes:
            self.volumes[volume_id] = lifecycle.VolumeState(volume_id)
        return self.volumes[volume_id]

    def _serialize(self) -> str:
        return json.dumps({
            'version': FORMAT_VERSION,
            'volumes': {vid: v.to_json()
                        for vid, v in sorted(self.volumes.items())},
            'volume_ids': dict(sorted(self.volume_ids.items())),
        }, indent=1, sort_keys=True)

    def _fingerprint(self) -> tuple:
        # Cheap to compute every tick, unlike serializing the whole file.
        return (len(self.volume_ids), tuple(
            (v.volume_id, v.phase, v.seq, v.request, v.response, v.unwritten,
             v.denied_request_id, v.retry_after, len(v.grow_timestamps),
             v.grow_attempts, v.last_error, v.disk_bytes)
            for v in self.volumes.values()))

    def save(self) -> bool:
        """Write the file if anything changed; True if written."""
        fingerprint = self._fingerprint()
        if fingerprint == self._saved_fingerprint:
            return False
        text = self._serialize()
        self._saved_fingerprint = fingerprint
        if text == self._saved:
            return False
        atomic_write(self.path, text, mode=0o600)
        self._saved = text
        return True


def atomic_write(path: str, text: str, mode: int = 0o644) -> None:
    """Replace ``path`` with ``text``: readers see the old or the new file."""
    directory = os.path.dirname(path) or '.'
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path),
                               dir=directory)
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
