"""Snakemake's command line (or a script that calls its API: tests/snakemake_jobs.py), each run in a
process forked from a server that has imported Snakemake once. Most of a short Snakemake run is
its imports (bench/snakemake_start.py measures a start), which the suite's many short runs would
each pay again. A forked run is a new process as far as Snakemake can tell:
the caller's arguments, working directory, environment and output files, its own process group,
and nothing left by another run (each is forked from the server, which runs nothing itself).

    python tests/forked_snakemake.py SOCKET     (the server: `SnakemakeServer` starts it)

The library is not imported by the server: a workflow may be a copy with a library of its own.
"""

import json
import os
import runpy
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

START_LIMIT_S = 120


def serve(path: str) -> None:
    """Accept runs on the Unix socket `path` until the process that started the server is gone."""
    # what every run imports: Snakemake, and the config's reading and check
    import jsonschema  # noqa: F401
    import snakemake.cli
    import snakemake.workflow
    import yaml  # noqa: F401

    snakemake.cli.get_argument_parser()  # the plugin registries it collects
    parent = os.getppid()
    server = socket.socket(socket.AF_UNIX)
    # bound under another name and renamed once listening: a client that sees `path` can connect
    server.bind(f"{path}.binding")
    server.listen()
    os.rename(f"{path}.binding", path)
    server.settimeout(1.0)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the forked runs
    while os.getppid() == parent:
        try:
            connection, _ = server.accept()
        except TimeoutError:
            continue
        if os.fork() == 0:
            server.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # a run waits for its own jobs
            connection.settimeout(None)
            _run(connection, snakemake)  # ends the process
        connection.close()
    shutil.rmtree(Path(path).parent, ignore_errors=True)


def _run(connection: socket.socket, snakemake) -> None:
    """One run, in the forked process: the request's setting, Snakemake's main, then its exit code
    sent back; the connection closes when the process ends."""
    request = json.loads(connection.makefile().readline())
    os.setpgid(0, 0)
    os.chdir(request["cwd"])
    # what Snakemake reads once, as it is imported: the directory it was started in (for its log)
    snakemake.workflow.Workflow._rundir = os.getcwd()
    os.environ.clear()
    os.environ.update(request["env"])
    for fd, name in ((0, os.devnull), (1, request["stdout"]), (2, request["stderr"])):
        opened = os.open(name, os.O_RDWR | os.O_CREAT)
        os.dup2(opened, fd)
        os.close(opened)
    connection.sendall(f"{os.getpid()}\n".encode())
    sys.argv = [request["script"] or "snakemake", *request["args"]]
    try:
        if request["script"]:
            runpy.run_path(request["script"], run_name="__main__")
        else:
            snakemake.cli.main(request["args"])
        code = 0
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except Exception:  # what a script lets escape, as the interpreter would report it
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    connection.sendall(f"{code}\n".encode())
    sys.exit(code)


class ForkedRun:
    """A run started by `SnakemakeServer.start`; `result` waits for it as subprocess.run would."""

    def __init__(self, connection: socket.socket, outputs: Path, args: list[str]):
        self.connection, self.outputs, self.args = connection, outputs, args
        self.replies = connection.makefile()
        self.pid = int(self.replies.readline())

    def result(self, timeout: float) -> subprocess.CompletedProcess:
        self.connection.settimeout(timeout)
        try:
            code = self.replies.readline()
            self.replies.read()  # the end of the process, after its exit handlers
        except TimeoutError:
            os.killpg(self.pid, signal.SIGKILL)
            raise subprocess.TimeoutExpired(self.args, timeout) from None
        finally:
            self.connection.close()
        out, err = ((self.outputs / name).read_text(errors="replace") for name in ("stdout", "stderr"))
        shutil.rmtree(self.outputs)
        # a run killed by a signal sends no code
        return subprocess.CompletedProcess(self.args, int(code) if code.strip() else -1, out, err)


class SnakemakeServer:
    """The server of one test process, started on first use."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="snakemake-server-"))  # removed by the server as it ends
        self.socket = self.folder / "snakemake.sock"
        self.process: subprocess.Popen | None = None
        self.lock = threading.Lock()

    def _started(self) -> None:
        with self.lock:
            if self.process is not None and self.process.poll() is None:
                return
            self.socket.unlink(missing_ok=True)
            self.process = subprocess.Popen([sys.executable, __file__, str(self.socket)])
            deadline = time.monotonic() + START_LIMIT_S
            while not self.socket.exists():
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the Snakemake server did not start (rc {self.process.poll()})")
                time.sleep(0.05)

    def start(
        self, args: list[str], cwd: Path, script: Path | None = None, env: dict[str, str] | None = None
    ) -> ForkedRun:
        """Snakemake's command line on `args` in `cwd`, or the Python `script` on them, started, in
        `env` (default: this process's environment)."""
        self._started()
        outputs = Path(tempfile.mkdtemp(dir=self.folder))
        request = {"args": list(map(str, args)), "cwd": str(cwd), "env": dict(os.environ if env is None else env)}
        request |= {"script": script and str(script)} | {name: str(outputs / name) for name in ("stdout", "stderr")}
        connection = socket.socket(socket.AF_UNIX)
        connection.connect(str(self.socket))
        connection.sendall((json.dumps(request) + "\n").encode())
        return ForkedRun(connection, outputs, [str(script or "snakemake"), *request["args"]])

    def run(
        self, args: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        """subprocess.run of Snakemake's command line, the output captured."""
        return self.start(args, cwd, env=env).result(timeout)


if __name__ == "__main__":
    serve(sys.argv[1])
