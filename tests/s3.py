"""A local S3 API for the tests: `moto_server` (from moto[server]) in a process of its own, behind a loopback
relay (`python -m tests.s3 PORT UPSTREAM`, also a process of its own) that can be cut and restored: an
unreachable bucket whose data survives the outage.

Both run outside the test process on purpose: some deltalake calls (`is_deltatable`, `history`, QueryBuilder
queries) hold the GIL during their network I/O, so an S3 endpoint served by Python threads of the same
process would deadlock them.

    with S3Server() as s3:                       # started, bucket created; stopped by its process id
        root = s3.lake_uri("fleet")              # s3://possync-test/fleet
        options = s3.storage_options             # what every read and write needs
        s3.cut(); ...; s3.restore()              # connections refused meanwhile, same port, same data
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from types import TracebackType

from tests.app.support import free_port
from tests.helpers import wait_until

BUCKET = "possync-test"
START_S = 30.0
FAST_FAILURE = {"max_retries": "2", "retry_timeout": "5s", "connect_timeout": "1s", "timeout": "10s"}
"""object_store client options that make an unreachable endpoint fail in a second or so, not minutes (the
defaults: 10 retries within 180 s; an `AWS_` prefix on these keys is silently ignored)."""


class S3Server:
    """moto_server on a free loopback port, a bucket in it, and a cuttable relay in front (`port`)."""

    def __init__(self, log: Path | None = None) -> None:
        self.moto_port = free_port()
        self._log = log or Path(os.devnull)
        self._process: subprocess.Popen[bytes] | None = None
        self._relay: subprocess.Popen[bytes] | None = None
        self.port = free_port()

    @property
    def endpoint(self) -> str:
        """The S3 endpoint URL clients use (the relay)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def reader_options(self) -> dict[str, str]:
        """The S3 options any reader takes (polars, duckdb, ...)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing-secret",
        }

    @property
    def storage_options(self) -> dict[str, str]:
        """delta-rs storage options for this server (fast failure when it is cut)."""
        return {**self.reader_options, **FAST_FAILURE}

    def lake_uri(self, prefix: str) -> str:
        """An S3 URI for a lake under `prefix` in the test bucket."""
        return f"s3://{BUCKET}/{prefix}"

    def start(self) -> "S3Server":
        """Start moto_server, wait until it answers, create the bucket."""
        with self._log.open("ab") as sink:
            command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.moto_port)]
            self._process = subprocess.Popen(command, stdout=sink, stderr=sink)
        wait_until(self._answers, START_S, 0.05, message=f"moto_server on {self.moto_port}")
        self.restore()
        request = urllib.request.Request(f"http://127.0.0.1:{self.moto_port}/{BUCKET}", method="PUT")
        urllib.request.urlopen(request, timeout=10).close()  # CreateBucket (us-east-1: no body)
        return self

    def cut(self) -> None:
        """Make the bucket unreachable: the relay process is killed (connections refused and dropped)."""
        _end(self._relay)
        self._relay = None

    def restore(self) -> None:
        """Make it reachable again, on the same port, with the same data (a new relay process)."""
        if self._relay is not None:
            return
        command = [sys.executable, "-m", "tests.s3", str(self.port), str(self.moto_port)]
        self._relay = subprocess.Popen(command, cwd=Path(__file__).parent.parent)
        wait_until(self._relayed, START_S, 0.02, message=f"relay on {self.port}")

    def stop(self) -> None:
        """Stop the relay and the moto_server process (by their pids) and reap them."""
        self.cut()
        _end(self._process)
        self._process = None

    def _relayed(self) -> bool:
        if self._relay is None or self._relay.poll() is not None:
            raise AssertionError("the S3 relay exited")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def _answers(self) -> bool:
        if self._process is None or self._process.poll() is not None:
            raise AssertionError(f"moto_server exited: {self._log}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.moto_port}/", timeout=2).close()
        except OSError:
            return False
        return True

    def __enter__(self) -> "S3Server":
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()


class Relay:
    """A loopback TCP relay on `port` to 127.0.0.1:`upstream` (run in its own process by `S3Server`)."""

    def __init__(self, port: int, upstream: int) -> None:
        self._upstream = upstream
        self.port = port
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Listen (again) on `port`."""
        with self._lock:
            if self._listener is None:
                self._listener = socket.create_server(("127.0.0.1", self.port))
                self._spawn(self._accept, self._listener)

    def stop(self) -> None:
        """Stop listening, close every relayed connection, join the threads."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = set(self._sockets), set()
            threads, self._threads = self._threads, []
        for sock in ([listener] if listener else []) + list(sockets):
            _close(sock)
        for thread in threads:
            thread.join(5)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self._upstream), timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    _close(client, upstream)
                    return
                self._sockets |= {client, upstream}
                self._spawn(_pipe, client, upstream)
                self._spawn(_pipe, upstream, client)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        _close(source, sink)


def _end(process: subprocess.Popen[bytes] | None) -> None:
    """Stop `process` (SIGTERM, then SIGKILL) and reap it."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()


def main() -> None:
    """`python -m tests.s3 PORT UPSTREAM`: relay PORT to UPSTREAM until SIGTERM."""
    relay = Relay(int(sys.argv[1]), int(sys.argv[2]))
    relay.start()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main()
