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

"""The ``vsm:`` server-metadata protocol: the one contract of agent and authz.

The guest agent and the authorization service talk through Nova server
metadata, the only channel that exists between a VM and the control plane
on every cloud. This module is the single place that knows the keys and
the value format; it is the only module that ``vsm_agent`` and
``vsm_authz`` share, so it imports nothing but the standard library.

Keys (one pair per volume, so a server with N data volumes uses 2N keys)::

    vsm:req:<volume_id>    written by the guest agent only
    vsm:resp:<volume_id>   written by the authorization service only

Each side owns its keys and never writes the other's: Nova's metadata
update can lose a concurrent writer's keys (the API merges into a stale
copy), so separate owners plus re-assertion make the protocol convergent.

Values are ``;``-separated ``name=value`` fields, starting with the
protocol version, e.g.::

    vsm:req:6f1c...   v=1;id=9b2e...;seq=3;st=requested;cur=10;want=12;
                      ts=1764097200;why=used_pct     (one line on the wire)
    vsm:resp:6f1c...  v=1;id=9b2e...;seq=3;st=granted;size=12;
                      ts=1764097201;why=ok

Use it like this::

    from vsm_agent import protocol

    req = protocol.ExpansionRequest(
        volume_id=vol, request_id=protocol.new_request_id(), seq=1,
        state=protocol.RequestState.REQUESTED, current_gb=10,
        requested_gb=12, timestamp=int(time.time()), reason='used_pct')
    key, value = req.key, req.encode()          # always legal for Nova

    view = protocol.read_metadata(server_metadata)      # never raises
    for volume_id, entry in view.items():
        entry.request, entry.response, entry.errors

``parse_request`` / ``parse_response`` are strict: any malformed, oversized,
wrong-version, wrong-type or out-of-range input raises a subclass of
:class:`ProtocolError` that names the offending field and carries a short
``code`` for audit logs. They never raise anything else. The guest is
untrusted, so the control plane must treat every value as hostile input;
the agent parses responses with the same strictness.

Request state machine (per request id)::

    requested ──► pending ──► granted ──► extended ──► grown
        │            │           │            └──────► failed (guest side)
        │            └──► denied └──► failed (extend failed)
        └──► denied

``requested``, ``grown`` and ``failed`` (guest grow failed) are written by
the agent in ``vsm:req:``; ``pending``, ``granted``, ``denied``, ``extended``
and ``failed`` (extend failed) by the service in ``vsm:resp:``. A request is
identified by ``id`` (random, 32 hex) and ordered by ``seq`` (per volume,
strictly increasing across the agent's requests): a value whose ``seq`` is
lower than one already seen is stale, an equal ``(id, seq)`` is a
duplicate, an equal ``seq`` with another ``id`` is a replay or forgery.
"""

import dataclasses
import enum
import re
import secrets
import typing

#: Protocol version carried by every value.
VERSION = 1
#: Prefix of every key VSM writes.
PREFIX = 'vsm:'
REQUEST_PREFIX = 'vsm:req:'
RESPONSE_PREFIX = 'vsm:resp:'

#: Nova's limits on server metadata (nova/api/validation/parameter_types.py).
NOVA_KEY_PATTERN = re.compile(r'^[a-zA-Z0-9-_:. ]{1,255}$')
NOVA_MAX_VALUE_LENGTH = 255

#: Largest size in GiB the protocol carries (1 PiB), far above any real volume.
MAX_SIZE_GB = 1048576
#: Largest sequence number (fits a signed 32-bit column).
MAX_SEQ = 2 ** 31 - 1
#: Timestamps are whole UNIX seconds before 2100-01-01.
MAX_TIMESTAMP = 4102444800

_VOLUME_ID = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                        r'[0-9a-f]{12}$')
_REQUEST_ID = re.compile(r'^[0-9a-f]{32}$')
_REASON = re.compile(r'^[a-z][a-z0-9_]{0,23}$')
_UINT = re.compile(r'^(0|[1-9][0-9]{0,15})$')
_FIELD_NAME = re.compile(r'^[a-z]{1,8}$')


class RequestState(str, enum.Enum):
    """States the agent writes in ``vsm:req:<volume>``."""

    REQUESTED = 'requested'
    GROWN = 'grown'
    FAILED = 'failed'


class ResponseState(str, enum.Enum):
    """States the service writes in ``vsm:resp:<volume>``."""

    PENDING = 'pending'
    GRANTED = 'granted'
    DENIED = 'denied'
    EXTENDED = 'extended'
    FAILED = 'failed'


#: Response states after which the service will not change its answer.
FINAL_RESPONSE_STATES = frozenset({ResponseState.DENIED,
                                   ResponseState.EXTENDED,
                                   ResponseState.FAILED})


class Reason:
    """Well-known reason codes.

    Any code matching ``[a-z][a-z0-9_]{0,23}`` is legal on the wire; these
    are the ones VSM itself writes.
    """

    # Agent: why it asks.
    USED_PCT = 'used_pct'
    FREE_PCT = 'free_pct'
    FREE_BYTES = 'free_bytes'
    INODES = 'inodes'
    PREDICTED = 'predicted'
    EMERGENCY = 'emergency'
    MANUAL = 'manual'
    # Agent: outcome of a grow.
    GROWN = 'grown'
    GROW_FAILED = 'grow_failed'
    # Service: decisions.
    OK = 'ok'
    DRY_RUN = 'dry_run'
    OVER_LIMIT = 'over_limit'
    LIMIT_UNREGISTERED = 'limit_unregistered'
    QUOTA = 'quota'
    MAX_SIZE = 'max_size'
    COOLDOWN = 'cooldown'
    RATE = 'rate'
    RUNAWAY = 'runaway'
    APPROVAL = 'approval'
    OPERATOR = 'operator'
    INVALID = 'invalid'
    NOT_ATTACHED = 'not_attached'
    NOT_IN_USE = 'not_in_use'
    SIZE_MISMATCH = 'size_mismatch'
    NO_ONLINE_EXTEND = 'no_online_extend'
    NO_VALID_BACKEND = 'no_valid_backend'
    EXTEND_ERROR = 'extend_error'
    TIMEOUT = 'timeout'


# ---------------------------------------------------------------- errors --

class ProtocolError(ValueError):
    """Base of every error the parser raises.

    :ivar field: the field (or ``'key'`` / ``'value'``) that was wrong.
    :ivar code: a short, stable code for audit logs and metrics.
    """

    code = 'malformed'

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__('%s: %s' % (field, message))


class MalformedValue(ProtocolError):
    """The value is not a ``;``-separated list of ``name=value`` fields."""

    code = 'malformed'


class ValueTooLong(ProtocolError):
    """Key or value exceeds Nova's limits."""

    code = 'too_long'


class UnsupportedVersion(ProtocolError):
    """The ``v`` field names a protocol version this code does not speak."""

    code = 'bad_version'


class MissingField(ProtocolError):
    """A required field is absent."""

    code = 'missing_field'


class UnknownField(ProtocolError):
    """A field this version does not define, or one given twice."""

    code = 'unknown_field'


class InvalidField(ProtocolError):
    """A field has the wrong type, syntax or an out-of-range value."""

    code = 'invalid_field'


class InvalidKey(ProtocolError):
    """The metadata key is not a VSM key for a well-formed volume id."""

    code = 'bad_key'


# ------------------------------------------------------------ primitives --

def new_request_id() -> str:
    """A fresh, unguessable request id (32 lowercase hex digits)."""
    return secrets.token_hex(16)


def request_key(volume_id: str) -> str:
    """The metadata key the agent writes for ``volume_id``."""
    return REQUEST_PREFIX + _check_volume_id('volume_id', volume_id)


def response_key(volume_id: str) -> str:
    """The metadata key the service writes for ``volume_id``."""
    return RESPONSE_PREFIX + _check_volume_id('volume_id', volume_id)


def parse_key(key: typing.Any) -> typing.Tuple[str, str]:
    """Split a VSM key into ``('req'|'resp', volume_id)``.

    :raises InvalidKey: for any key that is not a well-formed VSM key.
    """
    if not isinstance(key, str):
        raise InvalidKey('key', 'must be a string, got %s'
                         % type(key).__name__)
    if len(key) > 255:
        raise InvalidKey('key', 'longer than 255 characters')
    for prefix, kind in ((REQUEST_PREFIX, 'req'), (RESPONSE_PREFIX, 'resp')):
        if key.startswith(prefix):
            volume_id = key[len(prefix):]
            if not _VOLUME_ID.match(volume_id):
                raise InvalidKey('key', 'volume id %r is not a lowercase '
                                 'UUID' % _shorten(volume_id))
            return kind, volume_id
    raise InvalidKey('key', 'not a VSM key (expected prefix %r or %r)'
                     % (REQUEST_PREFIX, RESPONSE_PREFIX))


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + '...'


def _check_volume_id(field: str, value: typing.Any) -> str:
    if not isinstance(value, str) or not _VOLUME_ID.match(value):
        raise InvalidField(field, 'must be a lowercase UUID, got %r'
                           % (_shorten(str(value)),))
    return value


def _check_request_id(field: str, value: typing.Any) -> str:
    if not isinstance(value, str) or not _REQUEST_ID.match(value):
        raise InvalidField(field, 'must be 32 lowercase hex digits, got %r'
                           % (_shorten(str(value)),))
    return value


def _check_reason(field: str, value: typing.Any) -> str:
    if not isinstance(value, str) or not _REASON.match(value):
        raise InvalidField(field, 'must match [a-z][a-z0-9_]{0,23}, got %r'
                           % (_shorten(str(value)),))
    return value


def _check_int(field: str, value: typing.Any, low: int, high: int) -> int:
    # bool is an int subclass: reject it explicitly.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidField(field, 'must be an integer, got %s'
                           % type(value).__name__)
    if not low <= value <= high:
        raise InvalidField(field, 'must be between %d and %d, got %d'
                           % (low, high, value))
    return value


def _parse_int(field: str, text: str, low: int, high: int) -> int:
    if not _UINT.match(text):
        raise InvalidField(field, 'must be a decimal integer without sign '
                           'or leading zeros, got %r' % _shorten(text))
    return _check_int(field, int(text), low, high)


def _check_enum(field: str, value: typing.Any, enum_cls):
    try:
        return enum_cls(value)
    except ValueError:
        raise InvalidField(field, 'must be one of %s, got %r'
                           % ('|'.join(m.value for m in enum_cls),
                              _shorten(str(value))))


def _split_fields(value: typing.Any) -> typing.Dict[str, str]:
    """Split and check the envelope; return the fields in order."""
    if not isinstance(value, str):
        raise MalformedValue('value', 'must be a string, got %s'
                             % type(value).__name__)
    if len(value) > NOVA_MAX_VALUE_LENGTH:
        raise ValueTooLong('value', 'is %d characters, the limit is %d'
                           % (len(value), NOVA_MAX_VALUE_LENGTH))
    if not value:
        raise MalformedValue('value', 'is empty')
    fields: typing.Dict[str, str] = {}
    for part in value.split(';'):
        name, sep, text = part.partition('=')
        if not sep:
            raise MalformedValue('value', 'field %r has no "="'
                                 % _shorten(part))
        if not _FIELD_NAME.match(name):
            raise MalformedValue('value', 'field name %r is not 1-8 '
                                 'lowercase letters' % _shorten(name))
        if name in fields:
            raise UnknownField(name, 'given more than once')
        fields[name] = text
    version = fields.get('v')
    if version is None:
        raise MissingField('v', 'the protocol version is required')
    if next(iter(fields)) != 'v':
        raise MalformedValue('v', 'the version must be the first field')
    if version != str(VERSION):
        raise UnsupportedVersion('v', 'version %r is not supported (this '
                                 'code speaks %d)'
                                 % (_shorten(version), VERSION))
    return fields


def _take(fields: typing.Dict[str, str], name: str) -> str:
    try:
        return fields.pop(name)
    except KeyError:
        raise MissingField(name, 'is required')


def _reject_leftovers(fields: typing.Dict[str, str]) -> None:
    if fields:
        name = next(iter(fields))
        raise UnknownField(name, 'is not a field of protocol version %d'
                           % VERSION)


def _join(pairs) -> str:
    return ';'.join('%s=%s' % (name, text) for name, text in pairs
                    if text is not None)


# ------------------------------------------------------------ messages --

@dataclasses.dataclass(frozen=True)
class ExpansionRequest:
    """The agent's value in ``vsm:req:<volume_id>``.

    ``requested_gb`` is the absolute size asked for (not a delta), so a
    duplicate is harmless. ``current_gb`` is the size the guest sees; the
    service checks it against Cinder and never trusts it. With state
    ``grown`` the same request id acknowledges a completed grow and
    ``current_gb`` is the size the filesystem now has.
    """

    volume_id: str
    request_id: str
    seq: int
    state: RequestState
    current_gb: int
    requested_gb: int
    timestamp: int
    reason: str

    def __post_init__(self):
        _check_volume_id('volume_id', self.volume_id)
        _check_request_id('id', self.request_id)
        _check_int('seq', self.seq, 1, MAX_SEQ)
        object.__setattr__(self, 'state',
                           _check_enum('st', self.state, RequestState))
        _check_int('cur', self.current_gb, 0, MAX_SIZE_GB)
        _check_int('want', self.requested_gb, 1, MAX_SIZE_GB)
        _check_int('ts', self.timestamp, 0, MAX_TIMESTAMP)
        _check_reason('why', self.reason)
        if (self.state is RequestState.REQUESTED
                and self.requested_gb <= self.current_gb):
            raise InvalidField('want', 'a request must ask for more than '
                               'the current size (%d <= %d)'
                               % (self.requested_gb, self.current_gb))

    @property
    def key(self) -> str:
        return REQUEST_PREFIX + self.volume_id

    def encode(self) -> str:
        return _join((('v', str(VERSION)), ('id', self.request_id),
                      ('seq', str(self.seq)), ('st', self.state.value),
                      ('cur', str(self.current_gb)),
                      ('want', str(self.requested_gb)),
                      ('ts', str(self.timestamp)), ('why', self.reason)))

    def replace(self, **changes) -> 'ExpansionRequest':
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True)
class ExpansionResponse:
    """The service's value in ``vsm:resp:<volume_id>``.

    ``size_gb`` is the volume's size the answer is about: the granted
    target for ``pending``/``granted``/``extended``, the unchanged current
    size for ``denied``/``failed``. ``retry_after`` (UNIX seconds), when
    present on a denial, tells the agent it may ask again from then on
    (cooldowns, rate caps); a denial without it stops the agent until the
    answer changes.
    """

    volume_id: str
    request_id: str
    seq: int
    state: ResponseState
    size_gb: int
    timestamp: int
    reason: str
    retry_after: typing.Optional[int] = None

    def __post_init__(self):
        _check_volume_id('volume_id', self.volume_id)
        _check_request_id('id', self.request_id)
        _check_int('seq', self.seq, 1, MAX_SEQ)
        object.__setattr__(self, 'state',
                           _check_enum('st', self.state, ResponseState))
        _check_int('size', self.size_gb, 0, MAX_SIZE_GB)
        _check_int('ts', self.timestamp, 0, MAX_TIMESTAMP)
        _check_reason('why', self.reason)
        if self.retry_after is not None:
            _check_int('after', self.retry_after, 0, MAX_TIMESTAMP)

    @property
    def key(self) -> str:
        return RESPONSE_PREFIX + self.volume_id

    @property
    def final(self) -> bool:
        return self.state in FINAL_RESPONSE_STATES

    def answers(self, request: ExpansionRequest) -> bool:
        """True if this response is about ``request``."""
        return (self.request_id == request.request_id
                and self.seq == request.seq)

    def encode(self) -> str:
        after = None if self.retry_after is None else str(self.retry_after)
        return _join((('v', str(VERSION)), ('id', self.request_id),
                      ('seq', str(self.seq)), ('st', self.state.value),
                      ('size', str(self.size_gb)),
                      ('ts', str(self.timestamp)), ('why', self.reason),
                      ('after', after)))

    def replace(self, **changes) -> 'ExpansionResponse':
        return dataclasses.replace(self, **changes)


def parse_request(key: typing.Any, value: typing.Any) -> ExpansionRequest:
    """Parse the agent's ``vsm:req:`` entry.

    :raises ProtocolError: naming the field, for any invalid input.
    """
    kind, volume_id = parse_key(key)
    if kind != 'req':
        raise InvalidKey('key', 'expected a %r key' % REQUEST_PREFIX)
    fields = _split_fields(value)
    del fields['v']
    request_id = _check_request_id('id', _take(fields, 'id'))
    seq = _parse_int('seq', _take(fields, 'seq'), 1, MAX_SEQ)
    state = _check_enum('st', _take(fields, 'st'), RequestState)
    current = _parse_int('cur', _take(fields, 'cur'), 0, MAX_SIZE_GB)
    wanted = _parse_int('want', _take(fields, 'want'), 1, MAX_SIZE_GB)
    timestamp = _parse_int('ts', _take(fields, 'ts'), 0, MAX_TIMESTAMP)
    reason = _check_reason('why', _take(fields, 'why'))
    _reject_leftovers(fields)
    return ExpansionRequest(
        volume_id=volume_id, request_id=request_id, seq=seq, state=state,
        current_gb=current, requested_gb=wanted, timestamp=timestamp,
        reason=reason)


def parse_response(key: typing.Any, value: typing.Any) -> ExpansionResponse:
    """Parse the service's ``vsm:resp:`` entry.

    :raises ProtocolError: naming the field, for any invalid input.
    """
    kind, volume_id = parse_key(key)
    if kind != 'resp':
        raise InvalidKey('key', 'expected a %r key' % RESPONSE_PREFIX)
    fields = _split_fields(value)
    del fields['v']
    request_id = _check_request_id('id', _take(fields, 'id'))
    seq = _parse_int('seq', _take(fields, 'seq'), 1, MAX_SEQ)
    state = _check_enum('st', _take(fields, 'st'), ResponseState)
    size = _parse_int('size', _take(fields, 'size'), 0, MAX_SIZE_GB)
    timestamp = _parse_int('ts', _take(fields, 'ts'), 0, MAX_TIMESTAMP)
    reason = _check_reason('why', _take(fields, 'why'))
    after = fields.pop('after', None)
    retry_after = (None if after is None
                   else _parse_int('after', after, 0, MAX_TIMESTAMP))
    _reject_leftovers(fields)
    return ExpansionResponse(
        volume_id=volume_id, request_id=request_id, seq=seq, state=state,
        size_gb=size, timestamp=timestamp, reason=reason,
        retry_after=retry_after)


# ------------------------------------------------------- whole metadata --

@dataclasses.dataclass
class VolumeEntry:
    """What a server's metadata says about one volume."""

    volume_id: str
    request: typing.Optional[ExpansionRequest] = None
    response: typing.Optional[ExpansionResponse] = None
    #: ``{key: ProtocolError}`` for entries that failed to parse.
    errors: typing.Dict[str, ProtocolError] = dataclasses.field(
        default_factory=dict)


def vsm_keys(metadata: typing.Mapping[str, typing.Any]) -> typing.List[str]:
    """The keys of ``metadata`` that belong to VSM (cheap pre-filter)."""
    return [k for k in metadata if isinstance(k, str) and k.startswith(PREFIX)]


def read_metadata(metadata: typing.Any
                  ) -> typing.Dict[str, VolumeEntry]:
    """Parse every VSM entry of a server's metadata dict; never raises.

    Returns ``{volume_id: VolumeEntry}``. Entries whose key cannot be tied
    to a volume are reported under the pseudo volume id ``''``. Non-VSM
    keys are ignored.
    """
    entries: typing.Dict[str, VolumeEntry] = {}
    if not isinstance(metadata, typing.Mapping):
        bad = VolumeEntry('')
        bad.errors['metadata'] = MalformedValue(
            'metadata', 'must be a mapping, got %s' % type(metadata).__name__)
        return {'': bad}
    for key in vsm_keys(metadata):
        value = metadata[key]
        try:
            kind, volume_id = parse_key(key)
        except ProtocolError as exc:
            entries.setdefault('', VolumeEntry('')).errors[key] = exc
            continue
        entry = entries.setdefault(volume_id, VolumeEntry(volume_id))
        try:
            if kind == 'req':
                entry.request = parse_request(key, value)
            else:
                entry.response = parse_response(key, value)
        except ProtocolError as exc:
            entry.errors[key] = exc
    return entries


def is_legal_for_nova(key: str, value: str) -> bool:
    """True if Nova would accept ``{key: value}`` as server metadata."""
    return (isinstance(key, str) and isinstance(value, str)
            and bool(NOVA_KEY_PATTERN.match(key))
            and len(value) <= NOVA_MAX_VALUE_LENGTH)
