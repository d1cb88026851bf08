"""One error tree for opfleet, sorted by what the caller must do.

::

    OpfleetError
    ├── UsageError            the command line is wrong: fix the invocation
    ├── ConfigError           a setting (profile, environment, flag) is wrong: fix the setting
    ├── InputError            data given to us does not decode: fix the input
    │   └── DecodeError       ... at a known byte offset (raised by opfleet.protocol)
    ├── NotAvailableYet       the feature is defined but not built yet
    └── NodeError             raised while a node runs
        ├── TemporaryError    retry the same step later (an endpoint is down, data not there yet)
        ├── ResetError        our view of L1/L2 is stale: reset the pipeline, as after a reorg
        └── CriticalError     stop the node with a clear message; retrying cannot help
            └── AuthenticationError  an endpoint refused our credentials (HTTP 401/403)

The command line maps each branch to one exit status (``opfleet.cli.exit``); nothing else
chooses exit codes.
"""

from __future__ import annotations


class OpfleetError(Exception):
    """Base of every error opfleet raises on purpose."""


class UsageError(OpfleetError):
    """The command line is malformed."""


class ConfigError(OpfleetError):
    """A setting is missing, unreadable or of the wrong type.

    ``source`` names where the bad value came from (a file path, an environment variable or a
    flag) so the message can point the operator straight at it.
    """

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None):
        self.source = source
        self.key = key
        where = ", ".join(part for part in (source, f"key {key!r}" if key else None) if part)
        super().__init__(f"{where}: {message}" if where else message)


class InputError(OpfleetError):
    """Input data (a file, stdin, an RPC payload) cannot be used."""


class DecodeError(InputError, ValueError):
    """Bytes do not follow the format being decoded.

    ``offset`` is the byte offset in the outermost input where decoding failed, when known.
    """

    def __init__(self, message: str, *, offset: int | None = None):
        self.offset = offset
        self.reason = message
        super().__init__(f"{message} (at byte {offset})" if offset is not None else message)

    def at(self, base: int) -> DecodeError:
        """Return the same error with its offset shifted by ``base`` (for nested decoders)."""
        return type(self)(self.reason, offset=base + (self.offset or 0))


class NotAvailableYet(OpfleetError):
    """A subcommand or option exists in the interface but is not implemented yet."""


class NodeError(OpfleetError):
    """Raised by a running node; the subclass says what the caller must do."""


class TemporaryError(NodeError):
    """Retry later: an endpoint failed or the data is not there yet."""


class BlockNotFoundError(TemporaryError):
    """The node does not have the requested block (yet): ``null`` for a block lookup.

    A :class:`TemporaryError`, so generic retry loops wait for it; callers that must tell "not
    there" from "unreachable" (an EL still syncing) catch it specifically.
    """


class ResetError(NodeError):
    """Reset the derivation pipeline (L1 or L2 view is inconsistent, e.g. a reorg)."""


class CriticalError(NodeError):
    """Stop: continuing would produce a wrong chain."""


class AuthenticationError(CriticalError):
    """An endpoint refused our credentials (e.g. a wrong ``--l2.jwt-secret``).

    Critical for one-shot callers; a long-running node may keep retrying, since the operator can
    fix the secret or the endpoint without restarting us.
    """
