"""The lake on object storage: observations/s into an S3 lake (moto_server) vs a local lake, in one run.

Measured in one run, with the same rows and the same sender as `lake_writes` (it tells `WriteRows` of
`--rows-per-message` observations as fast as it can for `--seconds`, then waits until all is committed):
- local: a LakeWriterActor on a local directory (default `lake` settings);
- S3: the same on `s3://bench/<run>` served by `moto_server` (a Python S3 API in its own process on
  loopback: each commit costs ~0.1 s, more than real S3 within a region, which is the point);
- S3 without adaptive batching (a table commits again as soon as the last commit ended), for comparison;
- two writers on the same S3 table at once (two journals: two app ids), against one.
Columns: observations/s (until committed), commits/s (all tables), commit p50/p99, median rows per commit.
Target: the S3 lake at least 0.5x the local lake's observations/s (adaptive batching).

    .venv/bin/python -m bench.lake_s3 [--seconds 5] [--rows-per-message 100]
"""

import argparse
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

if __package__ in (None, ""):  # run as a file: `python bench/lake_s3.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Report, Table, Target, bench_main, ms, num, wait_for
from bench.lake_writes import build_messages
from possync.actors.lake import _writer as lake_writer
from possync.actors.lake._writer import LakeWriterActor
from possync.config.settings import LakeSettings
from possync.messages.lake import GetLakeStatus, LakeStatus, WriteRows

BUCKET = "bench"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of this benchmark."""
    parser.add_argument("--seconds", type=float, default=5.0, help="how long each sender floods its writer")
    parser.add_argument("--rows-per-message", type=int, default=100, help="observations per WriteRows")


class MotoServer:
    """`moto_server` on a free loopback port with the bucket created; stopped by its process id."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._answers, 30, "moto_server")
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/{BUCKET}", method="PUT")
        urllib.request.urlopen(request, timeout=10).close()

    @property
    def options(self) -> dict[str, str]:
        """The storage options of this server."""
        return {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.port}",
            "AWS_ALLOW_HTTP": "true",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
        }

    def stop(self) -> None:
        """SIGTERM the server and reap it."""
        self._process.send_signal(signal.SIGTERM)
        self._process.wait(10)

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=1).close()
        except OSError:
            return False
        return True


def flood(settings: LakeSettings, messages: list[WriteRows], seconds: float) -> tuple[LakeStatus, float]:
    """Tell the writer messages for `seconds`, wait until all is committed: its status and the span."""
    writer = LakeWriterActor.start(None, settings)
    try:
        writer.ask(GetLakeStatus(), timeout=60)
        sent, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            writer.tell(messages[sent % len(messages)])
            sent += 1
            if sent % 20 == 0:
                writer.ask(GetLakeStatus(), timeout=60)  # keep the inbox bounded, as an ask-ing sender does
        status = _committed(writer)
        return status, time.perf_counter() - started
    finally:
        writer.stop(timeout=60)


def _committed(writer) -> LakeStatus:
    while True:
        status = writer.ask(GetLakeStatus(), timeout=60)
        if status.pending_rows == 0:
            return status
        time.sleep(0.05)


def figures(results: list[tuple[LakeStatus, float]]) -> dict[str, float]:
    """Rows/s and commits/s over the longest span, the worst p50/p99 and the median batch."""
    span = max(elapsed for _, elapsed in results)
    return {
        "rows/s": sum(s.rows_written for s, _ in results) / span,
        "commits/s": sum(s.commits for s, _ in results) / span,
        "p50": max(s.commit_p50_s for s, _ in results),
        "p99": max(s.commit_p99_s for s, _ in results),
        "batch": max(s.batch_rows_p50 for s, _ in results),
    }


def in_parallel(settings: list[LakeSettings], messages: list[WriteRows], seconds: float) -> dict[str, float]:
    """Flood one writer per settings at once (threads), each with its own journal."""
    results: list[tuple[LakeStatus, float]] = []
    threads = [
        threading.Thread(target=lambda s=s: results.append(flood(s, messages, seconds))) for s in settings
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return figures(results)


def run(args: argparse.Namespace) -> Report:
    """Measure local, S3, S3 without adaptive batching, and two S3 writers."""
    messages = build_messages(args.rows_per_message)
    server = MotoServer()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-s3-") as directory:
            rows = _measure(Path(directory), server, messages, args.seconds)
    finally:
        server.stop()
    return _report(args, rows)


def _measure(tmp: Path, server: MotoServer, messages: list[WriteRows], seconds: float) -> dict[str, dict]:
    def s3(name: str, writer: str) -> LakeSettings:
        local = str(tmp / f"{name}-{writer}")
        return LakeSettings(root=f"s3://{BUCKET}/{name}", storage_options=server.options, local_dir=local)

    rows = {"local": in_parallel([LakeSettings(root=str(tmp / "local"))], messages, seconds)}
    rows["S3"] = in_parallel([s3("one", "a")], messages, seconds)
    paced, lake_writer.min_gap_s = lake_writer.min_gap_s, lambda _p50: 0.0
    try:
        rows["S3, adaptive batching off"] = in_parallel([s3("off", "a")], messages, seconds)
    finally:
        lake_writer.min_gap_s = paced
    rows["S3, two writers on one table"] = in_parallel([s3("two", "a"), s3("two", "b")], messages, seconds)
    return rows


def _report(args: argparse.Namespace, rows: dict[str, dict]) -> Report:
    local = rows["local"]["rows/s"]
    table = Table(
        f"Observations into position_updates, {args.seconds:g} s of sending per writer, "
        f"{args.rows_per_message} rows/message (S3: moto_server on loopback)",
        ["lake", "observations/s", "vs local", "commits/s", "commit p50", "commit p99", "rows/commit p50"],
    )
    for name, f in rows.items():
        table.rows.append(
            [
                name,
                num(f["rows/s"]),
                f"{f['rows/s'] / local:.2f}x",
                num(f["commits/s"], 2),
                ms(f["p50"]),
                ms(f["p99"]),
                num(f["batch"]),
            ]
        )
    table.notes.append("commits/s counts every table's commits; p50/p99 are of the slowest writer")
    ratio = rows["S3"]["rows/s"] / local
    target = Target("S3 vs local", ">= 0.5x observations/s", f"{ratio:.2f}x", ratio >= 0.5)
    return Report("lake_s3", tables=[table], targets=[target])


if __name__ == "__main__":
    bench_main(sys.modules[__name__])
