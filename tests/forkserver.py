"""A fork server for tests/test_kill_resume.py: `python3 tests/forkserver.py`.

It imports classicnets once, then forks one child per request, which runs
`classicnets ARGV` exactly as `python3 -m classicnets ARGV` does (cli.main, its exit code),
without the 6-15 s a fresh interpreter spends importing torch, scikit-learn and matplotlib
on a busy 2-core machine. Each child is a real process: a SIGKILL ends it with nothing
flushed and nothing run, and only what it wrote to disk remains.

Forking is safe here because the server has run no torch op: no OpenMP pool exists yet, and
each child starts its own.

ForkServer (below) is the tests' side: it starts the server and hands out Child handles.

Protocol, one line each way: a request is JSON {"argv": [...], "cpu": N, "log": PATH} (the
child runs pinned to core N, its stdout and stderr appended to PATH); the server answers
"started PID", and "exited PID CODE" when a child ends (CODE negative: killed by that
signal). End of input: remaining children are killed, and the server exits.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path


def child(request: dict) -> None:
    """In the forked child: become `classicnets ARGV`; never returns."""
    code = 1
    try:
        os.sched_setaffinity(0, {request["cpu"]})
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        from classicnets.cli import main

        code = main(request["argv"])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def reap(children: set[int]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        print(f"exited {pid} {os.waitstatus_to_exitcode(status)}", flush=True)


def serve() -> None:
    # What a run imports, imported once: every child starts with it in memory.
    import torch._dynamo  # noqa: F401  (torch.optim's first optimizer imports it: ~3 s)
    from torch.utils.tensorboard import SummaryWriter  # noqa: F401

    import classicnets.cli  # noqa: F401
    import classicnets.plots  # noqa: F401

    children: set[int] = set()
    pending = b""
    print("ready", flush=True)
    while True:
        readable, _, _ = select.select([0], [], [], 0.005)
        if readable:
            data = os.read(0, 65536)
            if not data:
                break
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                pid = os.fork()
                if pid == 0:
                    child(json.loads(line))
                children.add(pid)
                print(f"started {pid}", flush=True)
        reap(children)
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    while children:
        pid, status = os.waitpid(-1, 0)
        children.discard(pid)


class Child:
    """A process the server forked: poll, kill and wait as with subprocess.Popen."""

    def __init__(self, server: ForkServer, pid: int, log: Path):
        self.server, self.pid, self.log = server, pid, log

    def poll(self) -> int | None:
        return self.server.exits.get(self.pid)

    def kill(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)

    def wait(self) -> int:
        while self.poll() is None:
            assert self.server.process.poll() is None, "the fork server died"
            time.sleep(0.002)
        return self.poll()

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


class ForkServer:
    """The server as a subprocess, and the children it forks for us."""

    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout.readline() == "ready\n", "the fork server did not start"
        self.exits: dict[int, int] = {}
        self._started: list[int] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            kind, pid, *code = line.split()
            with self._lock:
                if kind == "started":
                    self._started.append(int(pid))
                else:
                    self.exits[int(pid)] = int(code[0])

    def start(self, argv: list[str], cpu: int, log: Path) -> Child:
        """`classicnets ARGV` in a new child pinned to core `cpu`, its output into `log`."""
        request = {"argv": argv, "cpu": cpu, "log": str(log)}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        while True:  # one request at a time: the next "started" line is its child
            with self._lock:
                if self._started:
                    return Child(self, self._started.pop(0), log)
            assert self.process.poll() is None, "the fork server died"
            time.sleep(0.001)

    def close(self) -> None:
        self.process.stdin.close()  # the server kills what is left and exits
        self.process.wait(timeout=60)


if __name__ == "__main__":
    serve()
