"""Run the simulator with hypercorn (h2c prior knowledge + HTTP/1.1 on one port, optional TLS with
ALPN h2/http1.1 on another), and `SimProcess`, which starts it as a child process for tests and the
workflow."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from quantmini.atomic import write_text
from quantmini.processes import alive, me


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 0
    tls: bool = False
    tls_port: int = 0
    tickers: int = 50
    seed: int = 42
    start: str = "2019-01-02"
    end: str | None = None
    vendor_errors: bool = True
    extra_vendor_errors: bool = False
    plant_signal: float = 0.0
    plant_leak: float = 0.0
    api_key: str | None = None
    faults: str | None = None
    fault_seed: int = 0
    fault_max_consecutive: int = 2
    fault_slow_s: float = 2.0
    latency_ms: float = 0.0
    gzip_level: int = 1
    plan_start: str | None = None
    delayed_minutes: float = 0.0
    legacy_shapes: bool = False
    revise: str | None = None
    bad_month: str | None = None
    request_log: str | None = None
    ready_file: str | None = None
    tls_dir: str | None = None
    parent_fd: int | None = None  # read end of a pipe held by the owner: EOF (the owner died) stops the server


def _listen_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


def _url(scheme: str, host: str, port: int) -> str:
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


async def _wait_until_serving(host: str, port: int, timeout: float = 30.0) -> None:
    """Probe our own health endpoint over HTTP/1.1: proves the server really accepts and answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"GET /__sim/health HTTP/1.1\r\nhost: probe\r\nconnection: close\r\n\r\n")
            await writer.drain()
            status = await reader.readline()
            writer.close()
            if status.startswith(b"HTTP/1.1 200"):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the simulator did not start answering in time")
        await asyncio.sleep(0.05)


def serve(opts: ServeOptions) -> None:
    """Build the market, bind, serve until SIGTERM/SIGINT; write the ready file once answering."""
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    from quantmini.sim.app import SimApp
    from quantmini.sim.faults import FaultInjector, parse_fault_spec
    from quantmini.sim.legacy import LegacyShapes
    from quantmini.sim.market import Market, MarketConfig
    from quantmini.sim.plan import Plan
    from quantmini.sim.revise import Revision
    from quantmini.sim.revise import parse_spec as parse_revise

    faults = FaultInjector(parse_fault_spec(opts.faults), seed=opts.fault_seed,
                           max_consecutive=opts.fault_max_consecutive, slow_s=opts.fault_slow_s)
    market = Market(MarketConfig(seed=opts.seed, n_tickers=opts.tickers, start=opts.start, end=opts.end,
                                 vendor_errors=opts.vendor_errors,
                                 extra_vendor_errors=opts.extra_vendor_errors,
                                 plant_signal=opts.plant_signal, plant_leak=opts.plant_leak))
    app = SimApp(market, api_key=opts.api_key, faults=faults, latency_ms=opts.latency_ms,
                 request_log=opts.request_log, gzip_level=opts.gzip_level,
                 plan=Plan(dt.date.fromisoformat(opts.plan_start) if opts.plan_start else None,
                           opts.delayed_minutes),
                 shapes=LegacyShapes(opts.legacy_shapes, opts.bad_month),
                 revision=Revision(*parse_revise(opts.revise)) if opts.revise else None)
    plain = _listen_socket(opts.host, opts.port)
    config = Config()
    config.accesslog = None
    config.keep_alive_timeout = 75
    config.h2_max_concurrent_streams = 256
    config.insecure_bind = [f"fd://{plain.fileno()}"]
    info = {"url": _url("http", opts.host, plain.getsockname()[1]), "pid": os.getpid(),
            "tls_url": None, "ca_cert": None}
    if opts.tls:
        from quantmini.sim.tls import make_self_signed

        tls_dir = Path(opts.tls_dir or tempfile.mkdtemp(prefix="quantmini-sim-tls-"))
        cert, key = make_self_signed(tls_dir)
        secure = _listen_socket(opts.host, opts.tls_port)
        config.certfile, config.keyfile = str(cert), str(key)
        config.alpn_protocols = ["h2", "http/1.1"]
        config.bind = [f"fd://{secure.fileno()}"]
        info.update(tls_url=_url("https", opts.host, secure.getsockname()[1]), ca_cert=str(cert))
    else:
        config.bind = config.insecure_bind

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if opts.parent_fd is not None:  # the owner holds the write end: EOF = it is gone, even SIGKILLed
            def parent_gone() -> None:
                with contextlib.suppress(OSError):
                    if os.read(opts.parent_fd, 4096):
                        return
                loop.remove_reader(opts.parent_fd)
                stop.set()

            loop.add_reader(opts.parent_fd, parent_gone)
        server = asyncio.create_task(hypercorn_serve(app, config, shutdown_trigger=stop.wait))
        await _wait_until_serving(opts.host, plain.getsockname()[1])
        if opts.ready_file:
            write_text(opts.ready_file, json.dumps(info))
        print(f"quantmini simulator serving {info['url']}" + (f" and {info['tls_url']}" if opts.tls else ""),
              file=sys.stderr, flush=True)
        await server

    asyncio.run(main())


TMP_PREFIX = "quantmini-sim-"
OWNER_FILE = "owner.json"


def sweep_stale_dirs(root: str | os.PathLike | None = None) -> list[Path]:
    """Remove the `quantmini-sim-*` temporary folders whose owner process is gone (SIGKILLed before its
    cleanup): the owner's pid and start time are recorded in the folder, so a live owner's folder, or
    one that reused a pid, is kept. Folders of other users cannot be removed and are skipped."""
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(f"{TMP_PREFIX}*"):
        try:
            owner = json.loads((folder / OWNER_FILE).read_text())
            live = alive(int(owner["pid"]), owner["start"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not ours to judge (no owner record yet, or another user's)
        if not live:
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                removed.append(folder)
    return removed


class SimProcess:
    """Start `python -m quantmini.sim serve ...` as a child (own process group) and wait until it answers.

    Options are those of `ServeOptions`. The API key goes through the environment, never argv. The child
    stops by itself when this process dies, however (its inherited pipe reaches EOF), and the temporary
    folder records its owner so the next start removes the folders of dead owners.
    """

    def __init__(self, ready_timeout: float = 180.0, **options):
        self.options = ServeOptions(**options)
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None  # the child's exit code once stopped (0 = clean shutdown)
        self.info: dict = {}
        self._tmp: Path | None = None
        self._lifeline: int | None = None  # write end of the pipe the child watches

    @property
    def url(self) -> str:
        return self.info["url"]

    @property
    def tls_url(self) -> str | None:
        return self.info.get("tls_url")

    @property
    def ca_cert(self) -> str | None:
        return self.info.get("ca_cert")

    @property
    def request_log(self) -> Path:
        return Path(self.options.request_log)

    def requests(self) -> list[dict]:
        """The request log so far, one dict per request."""
        if not self.request_log.exists():
            return []
        with open(self.request_log, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.endswith("\n")]

    def _argv(self, ready: Path) -> list[str]:
        o = self.options
        argv = [sys.executable, "-m", "quantmini.sim", "serve", "--host", o.host, "--port", str(o.port),
                "--tickers", str(o.tickers), "--seed", str(o.seed), "--start", str(o.start),
                "--fault-seed", str(o.fault_seed), "--fault-max-consecutive", str(o.fault_max_consecutive),
                "--fault-slow-s", str(o.fault_slow_s), "--latency-ms", str(o.latency_ms),
                "--gzip-level", str(o.gzip_level),
                "--request-log", str(o.request_log), "--ready-file", str(ready)]
        if o.parent_fd is not None:
            argv += ["--parent-fd", str(o.parent_fd)]
        if o.end:
            argv += ["--end", str(o.end)]
        if o.tls:
            argv += ["--tls", "--tls-port", str(o.tls_port), "--tls-dir", str(o.tls_dir)]
        if o.faults:
            argv += ["--faults", o.faults]
        if o.plan_start:
            argv += ["--plan-start", str(o.plan_start)]
        if o.delayed_minutes:
            argv += ["--delayed-minutes", str(o.delayed_minutes)]
        if o.legacy_shapes:
            argv += ["--legacy-shapes"]
        if o.bad_month:
            argv += ["--bad-month", o.bad_month]
        if o.revise:
            argv += ["--revise", o.revise]
        if not o.vendor_errors:
            argv += ["--no-vendor-errors"]
        if o.extra_vendor_errors:
            argv += ["--extra-vendor-errors"]
        if o.plant_signal or o.plant_leak:
            argv += ["--plant-signal", str(o.plant_signal), "--plant-leak", str(o.plant_leak)]
        return argv

    def start(self) -> SimProcess:
        sweep_stale_dirs()
        self._tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX))
        write_text(self._tmp / OWNER_FILE, json.dumps(me()))
        if not self.options.request_log:
            self.options.request_log = str(self._tmp / "requests.jsonl")
        if self.options.tls and not self.options.tls_dir:
            self.options.tls_dir = str(self._tmp / "tls")
        ready = Path(self.options.ready_file) if self.options.ready_file else self._tmp / "ready.json"
        ready.unlink(missing_ok=True)
        env = dict(os.environ)
        env.pop("QUANTMINI_SIM_API_KEY", None)
        if self.options.api_key:
            env["QUANTMINI_SIM_API_KEY"] = self.options.api_key
        self._stderr_path = self._tmp / "stderr.log"
        # a lifeline: only the child inherits the read end (pass_fds); the write end is not inheritable, so
        # it closes when this process dies (even SIGKILLed) and the child sees EOF and stops
        child_end, self._lifeline = os.pipe()
        self.options.parent_fd = child_end
        try:
            with open(self._stderr_path, "wb") as err:
                self.proc = subprocess.Popen(self._argv(ready), stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=err, env=env,
                                             start_new_session=True, pass_fds=(child_end,))
        finally:
            os.close(child_end)
        deadline = time.monotonic() + self.ready_timeout
        while not ready.exists():
            if self.proc.poll() is not None:
                msg = f"simulator exited with code {self.proc.returncode} before it was ready: {self._stderr_tail()}"
                self.stop()
                raise RuntimeError(msg)
            if time.monotonic() > deadline:
                msg = f"simulator not ready after {self.ready_timeout:.0f}s: {self._stderr_tail()}"
                self.stop()
                raise TimeoutError(msg)
            time.sleep(0.05)
        self.info = json.loads(ready.read_text())
        return self

    def _stderr_tail(self, limit: int = 2000) -> str:
        with contextlib.suppress(OSError):
            return self._stderr_path.read_text(errors="replace")[-limit:].strip() or "(no stderr)"
        return "(no stderr)"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if self.proc is not None:
            self.returncode = self.proc.returncode
        self.proc = None
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None

    def cleanup(self) -> None:
        """Remove the temporary directory (ready file, default request log, TLS files)."""
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        self.cleanup()
