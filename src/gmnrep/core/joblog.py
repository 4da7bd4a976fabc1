"""A job's log file: everything the job prints (progress bars included) goes to it, with the
start, the end and any traceback, so a failed cluster job can be diagnosed from logs/ alone.

SIGTERM (what SLURM sends before a time limit, on preemption or scancel) ends the job through an
exception: its traceback says where the job was, atomic writers remove their temporaries, and the
log says why it stopped."""

import contextlib
import signal
import threading
import time
import traceback
from pathlib import Path


class Terminated(BaseException):
    """The job received SIGTERM. A BaseException, so that no `except Exception` mistakes it for a
    failure of the code it interrupts."""


def _terminated(signum, frame):
    raise Terminated("SIGTERM received: the job was told to stop (a time limit, preemption or scancel)")


@contextlib.contextmanager
def _sigterm_raises():
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def job_log(path: str | Path, title: str):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(path, "w", buffering=1) as log,
        contextlib.redirect_stderr(log),
        contextlib.redirect_stdout(log),
        _sigterm_raises(),
    ):
        start = time.time()
        print(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] start: {title}", file=log)
        try:
            yield log
        except BaseException:
            traceback.print_exc(file=log)
            print(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] FAILED after {time.time() - start:.1f} s", file=log)
            raise
        print(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] done in {time.time() - start:.1f} s", file=log)
