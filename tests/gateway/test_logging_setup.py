"""The gateway's log setup reaches every package's module loggers, with the request id."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest

from connectors import request_id_var
from gateway.logging_setup import GATEWAY_LOGGERS, configure_logging


@pytest.fixture
def configured() -> Iterator[None]:
    configure_logging("INFO")
    yield
    for name in GATEWAY_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.setLevel(logging.NOTSET)


def test_module_loggers_show_info_as_key_values_with_the_request_id(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    token = request_id_var.set("req-7")
    try:
        logging.getLogger("resolvers.change_events").info("change events handled", extra={"events_new": 2})
        logging.getLogger("connectors._http").debug("not shown at INFO")
    finally:
        request_id_var.reset(token)
    err = capsys.readouterr().err
    assert "INFO resolvers.change_events: change events handled events_new=2 request_id=req-7" in err
    assert "not shown" not in err


def test_a_handler_set_up_under_a_stream_that_closed_still_writes(capsys: pytest.CaptureFixture[str]) -> None:
    """A CLI run inside a test runner (or a redirect) set it up; later records go to the stderr of their time."""
    saved, temporary = sys.stderr, io.StringIO()
    sys.stderr = temporary
    try:
        configure_logging("INFO")
    finally:
        sys.stderr = saved
        temporary.close()
    try:
        logging.getLogger("xref.outbox").warning("outbox gave up")
        assert "WARNING xref.outbox: outbox gave up" in capsys.readouterr().err
    finally:
        for name in GATEWAY_LOGGERS:
            logging.getLogger(name).handlers.clear()
            logging.getLogger(name).setLevel(logging.NOTSET)


def test_records_still_reach_a_root_capture(configured: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("gateway.change_events").info("subscription renewed")
    assert [r.getMessage() for r in caplog.records] == ["subscription renewed"]
