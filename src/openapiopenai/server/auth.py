"""Who may open a session: the API key as a Bearer header or the browser subprotocol."""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence

#: browsers cannot set headers; the official SDKs put the key in a subprotocol instead
KEY_SUBPROTOCOL_PREFIX = "openai-insecure-api-key."
BETA_SUBPROTOCOL = "openai-beta.realtime-v1"
REALTIME_SUBPROTOCOL = "realtime"


def presented_keys(headers: Mapping[str, str], subprotocols: Sequence[str]) -> list[str]:
    keys = []
    authorization = headers.get("authorization", "")
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        keys.append(credential.strip())
    keys += [p[len(KEY_SUBPROTOCOL_PREFIX) :] for p in subprotocols if p.startswith(KEY_SUBPROTOCOL_PREFIX)]
    return keys


def is_authorized(expected: str | None, headers: Mapping[str, str], subprotocols: Sequence[str]) -> bool:
    """True when no key is configured, or when a presented key matches (constant-time compare)."""
    if expected is None:
        return True
    want = expected.encode()
    # compare every candidate, so the time taken does not depend on which one matched
    matches = [hmac.compare_digest(key.encode(), want) for key in presented_keys(headers, subprotocols)]
    return any(matches)


def wants_beta(headers: Mapping[str, str], subprotocols: Sequence[str]) -> bool:
    """``OpenAI-Beta: realtime=v1`` (server SDKs) or its subprotocol (browsers)."""
    beta = headers.get("openai-beta", "")
    return "realtime=v1" in beta.replace(" ", "").split(",") or BETA_SUBPROTOCOL in subprotocols


def choose_subprotocol(offered: Sequence[str]) -> str | None:
    """Browsers abort unless the 101 selects one of their subprotocols: ``realtime`` is it."""
    return REALTIME_SUBPROTOCOL if REALTIME_SUBPROTOCOL in offered else None


__all__ = ["choose_subprotocol", "is_authorized", "presented_keys", "wants_beta"]
