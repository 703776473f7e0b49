"""The page's HTTP side: ``/`` serves the live page and everything it loads from the package, and
a plain GET of the WebSocket URL explains itself instead of answering 404."""

from __future__ import annotations

import re

import httpx

from openapiopenai.server.app import STATIC_DIR
from tests.server.conftest import ServerProcess


def test_root_serves_the_live_page_and_its_files(shared_server: ServerProcess) -> None:
    page = httpx.get(shared_server.http_url + "/", timeout=5)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    loaded = [ref for ref in re.findall(r'(?:src|href)="([^"]+)"', page.text) if not ref.startswith("data:")]
    assert {"live.js", "style.css"} <= set(loaded)
    script = httpx.get(shared_server.http_url + "/live.js", timeout=5).text
    loaded += re.findall(r'addModule\("([^"]+)"\)', script)
    assert "capture-worklet.js" in loaded
    for name in loaded:
        response = httpx.get(f"{shared_server.http_url}/{name}", timeout=5)
        assert response.status_code == 200, name
        assert response.content == (STATIC_DIR / name).read_bytes()


def test_the_page_loads_nothing_from_elsewhere() -> None:
    for path in STATIC_DIR.iterdir():
        text = path.read_text()
        assert not re.search(r"(?:src|href)=\"(?:https?:)?//", text), path.name
        assert "import(" not in text and "importScripts" not in text, path.name


def test_plain_get_of_the_websocket_url_answers_426_with_a_hint(shared_server: ServerProcess) -> None:
    for path in ("/v1/realtime", "/realtime"):
        response = httpx.get(shared_server.http_url + path, timeout=5)
        assert response.status_code == 426
        assert response.headers["upgrade"] == "websocket"
        assert response.text.count("\n") == 1 and "WebSocket" in response.text
