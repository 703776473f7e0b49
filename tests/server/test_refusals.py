"""Connections refused before the upgrade: each refusal's status, Realtime error body and count."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse

from openapiopenai.config import ServerSettings
from openapiopenai.server.app import create_app
from openapiopenai.server.codes import Refusal
from tests.synth import LoudnessModel


@contextmanager
def refused_client(refusal: Refusal) -> Iterator[TestClient]:
    """A client of a server in the state that makes it answer ``refusal``."""
    settings = ServerSettings(api_key="s3cret" if refusal is Refusal.UNAUTHORIZED else None, max_sessions=1)
    app = create_app(settings, model=LoudnessModel())
    with ExitStack() as stack:
        client = stack.enter_context(TestClient(app))
        if refusal is Refusal.TOO_MANY_SESSIONS:
            first = stack.enter_context(client.websocket_connect("/v1/realtime"))
            assert '"session.created"' in first.receive_text()
        if refusal is Refusal.SHUTTING_DOWN:
            app.state.hub.draining = True
        yield client


@pytest.mark.timeout(60)
@pytest.mark.parametrize("refusal", list(Refusal))
def test_each_refusal_is_an_http_error_with_a_realtime_body_and_is_counted(refusal: Refusal) -> None:
    with refused_client(refusal) as client:
        with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect("/v1/realtime"):
            pytest.fail("the upgrade was accepted")
        assert denied.value.status_code == refusal.status
        error = denied.value.json()["error"]
        assert (error["type"], error["code"]) == ("invalid_request_error", refusal.code)
        assert "{" not in error["message"] and error["message"]
        metrics = client.get("/metrics").text
        assert f'openapiopenai_sessions_refused_total{{reason="{refusal.reason}"}} 1.0' in metrics


def test_refusal_codes_and_reasons_are_distinct() -> None:
    assert len({r.code for r in Refusal}) == len({r.reason for r in Refusal}) == len(Refusal)
