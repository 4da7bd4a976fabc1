"""A job's log file: everything the job prints (progress bars included) goes to it, with the
start, the end and any traceback, so a failed cluster job can be diagnosed from logs/ alone."""

import contextlib
import time
import traceback
from pathlib import Path


@contextlib.contextmanager
def job_log(path: str | Path, title: str):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1) as log, contextlib.redirect_stderr(log), contextlib.redirect_stdout(log):
        start = time.time()
        print(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] start: {title}", file=log)
        try:
            yield log
        except BaseException:
            traceback.print_exc(file=log)
            print(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] FAILED after {time.time() - start:.1f} s", file=log)
            raise
        print(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] done in {time.time() - start:.1f} s", file=log)
