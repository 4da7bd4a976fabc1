"""A job's log (gmnrep.core.joblog): SIGTERM ends the job through an exception the log names."""

import os
import signal

import pytest

from gmnrep.core.joblog import Terminated, job_log


def test_sigterm_ends_a_job_through_an_exception_its_log_names(tmp_path):
    log = tmp_path / "job.log"
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated), job_log(log, "a long job"):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            signal.sigtimedwait([], 0.1)  # let the handler run
        except Exception:  # noqa: BLE001 - what a job's own error handling does: it must not swallow SIGTERM
            pytest.fail("SIGTERM was caught as an ordinary error")
    text = log.read_text()
    assert "Terminated: SIGTERM received: the job was told to stop" in text and "FAILED after" in text
    assert signal.getsignal(signal.SIGTERM) is before, "the job's handler outlived the job"
