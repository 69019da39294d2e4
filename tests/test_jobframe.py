"""The rule scripts' job frame: a failure is one line on stderr and in the job's log, exit 1."""

from __future__ import annotations

import logging

import pytest
from quantmini import jobframe


@pytest.fixture
def log(tmp_path):
    logger = jobframe.job_logging(str(tmp_path / "logs" / "job.log"))
    yield logger
    for handler in list(logger.handlers):
        handler.close()
        logger.removeHandler(handler)


def _log_text(tmp_path) -> str:
    return (tmp_path / "logs" / "job.log").read_text()


def test_failure_is_one_line_and_logged(tmp_path, log, capsys):
    with pytest.raises(SystemExit) as exit_info:
        with jobframe.failing_as("bronze news 2025", log):
            raise ValueError("bad\nrow")
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.splitlines()[-1] == "quantmini: bronze news 2025: bad row"
    text = _log_text(tmp_path)
    assert "ERROR quantmini: bronze news 2025 failed: bad" in text and "Traceback" not in text


def test_traceback_unless_plain(tmp_path, log, capsys):
    class Corrupt(RuntimeError):
        pass

    with pytest.raises(SystemExit):
        with jobframe.failing_as("gold qlib", log, traceback=True, plain=(Corrupt, OSError)):
            raise KeyError("x")
    assert "gold qlib failed\nTraceback" in _log_text(tmp_path)
    assert capsys.readouterr().err.splitlines()[-1] == "quantmini: gold qlib: 'x'"
    with pytest.raises(SystemExit):
        with jobframe.failing_as("gold qlib", log, traceback=True, plain=(Corrupt, OSError)):
            raise Corrupt("unreadable Parquet file f")
    assert "gold qlib failed: unreadable Parquet file f" in _log_text(tmp_path)


def test_success_and_exit_pass_through(log):
    with jobframe.failing_as("landing x", log):
        value = 1
    assert value == 1
    with pytest.raises(SystemExit) as exit_info:
        with jobframe.failing_as("landing x", log):
            jobframe.die("already one line", code=3)
    assert exit_info.value.code == 3


def test_start_uses_the_jobs_first_log(tmp_path):
    class Smk:
        log = [str(tmp_path / "logs" / "job.log")]

    logger = jobframe.start(Smk())
    try:
        logger.info("hello")
        assert "INFO quantmini: hello" in _log_text(tmp_path)
    finally:
        for handler in list(logger.handlers):
            handler.close()
            logger.removeHandler(handler)
    assert logging.getLogger("quantmini") is logger
