"""uvicorn writes its own log lines through handlers of its own (not the root's): secrets are
masked there too, in an access line (a secret in the request path) and in an error."""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bot.cli import _web_server
from bot.config.settings import Settings
from bot.container import Rollbot, build
from bot.logs import UVICORN_LOGGERS

SECRET = "s3cr3t-api-token-value"


@pytest.fixture
def served(
    settings_factory: Callable[..., Settings], tmp_path: Path
) -> Iterator[tuple[str, io.StringIO]]:
    """rollbot's web server as `serve` builds it, uvicorn's handlers writing to a buffer."""
    settings = settings_factory(f"sqlite:///{tmp_path / 'rollbot.db'}", api_token=SECRET)
    rollbot: Rollbot = build(settings)
    server = _web_server(rollbot, "127.0.0.1", 0)
    out = io.StringIO()
    levels: dict[str, int] = {}
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        levels[name] = logger.level
        for handler in logger.handlers:
            assert isinstance(handler, logging.StreamHandler)
            handler.setStream(out)
    # An operator who wants access lines raises uvicorn.access to INFO.
    logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", out
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        rollbot.db.dispose()


def test_a_secret_in_a_request_path_is_masked_in_uvicorns_access_line(
    served: tuple[str, io.StringIO],
) -> None:
    url, out = served
    assert httpx.get(f"{url}/flags/{SECRET}").status_code in (404, 422)
    deadline = time.monotonic() + 5
    while "GET /flags/" not in out.getvalue():
        assert time.monotonic() < deadline, f"no access line:\n{out.getvalue()}"
        time.sleep(0.02)
    written = out.getvalue()
    assert SECRET not in written
    assert "GET /flags/***" in written


def test_a_secret_in_an_error_uvicorn_logs_is_masked(served: tuple[str, io.StringIO]) -> None:
    _, out = served
    try:
        raise RuntimeError(f"upstream refused token {SECRET}")
    except RuntimeError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    written = out.getvalue()
    assert "Exception in ASGI application" in written
    assert "upstream refused token ***" in written
    assert SECRET not in written
