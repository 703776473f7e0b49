"""One root for every error this package raises on purpose.

    OpenapiopenaiError
    ├── ConfigError            a bad setting from a user or a file (CLI, library)
    ├── ModelLoadError         a speech model or backend that cannot be loaded
    ├── AudioFormatError       audio that cannot be decoded in the declared format
    └── ProtocolError          a client's mistake on the wire; the Session turns it into an
                               ``error`` event (with code, param and the client's event_id)
                               and keeps running

Programmer errors (bugs) are ordinary Python exceptions and are never caught to hide them.
"""

from __future__ import annotations


class OpenapiopenaiError(Exception):
    """Root of the package's deliberate errors."""


class ConfigError(OpenapiopenaiError, ValueError):
    """A configuration value is invalid."""


class ModelLoadError(OpenapiopenaiError, RuntimeError):
    """A speech model cannot be loaded (missing package or file)."""


def install_extra(extra: str) -> str:
    """How a user gets an optional extra: the one wording every "install X" message uses.
    The package is installed from a checkout (it is not published on PyPI)."""
    return f"pip install -e '.[{extra}]' in the openapiopenai checkout"


class AudioFormatError(OpenapiopenaiError, ValueError):
    """Audio bytes do not fit the declared format."""


class ProtocolError(OpenapiopenaiError):
    """A client's mistake, reported to that client as a Realtime ``error`` event.

    ``code``/``param`` follow the Realtime API (``invalid_value``, ``session.type`` ...);
    ``event_id`` is the offending client event's id, echoed back so the client can match it.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        event_id: str | None = None,
        error_type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.event_id = event_id
        self.error_type = error_type
