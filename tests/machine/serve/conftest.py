"""A classroom server on a free port, serving from a thread for one module."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from virtmodel.machine.serve.api import defaults
from virtmodel.machine.serve.server import ClassroomServer, make_server


@pytest.fixture(scope="module")
def server() -> Iterator[ClassroomServer]:
    running = make_server(0, defaults({}))
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()
    thread.join(timeout=10)
