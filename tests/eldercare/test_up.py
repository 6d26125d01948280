"""`eldercare up`: starts on the embedded defaults, seeds, answers /healthz, stops on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_healthy(base: str, process: subprocess.Popen[str], deadline_s: float) -> dict[str, object]:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"eldercare up exited early:\n{process.stdout.read() if process.stdout else ''}"
            )
        try:
            answer = httpx.get(f"{base}/healthz", timeout=2)
            if answer.status_code == 200:
                return dict(answer.json())
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError("eldercare up did not become healthy in time")


def test_up_seeds_serves_healthz_and_docs_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELDERCARE_", "TWILIO_"))}
    env["ELDERCARE_DATA_DIR"] = str(tmp_path / "data")
    process = subprocess.Popen(
        [sys.executable, "-m", "eldercare", "up", "--port", str(port), "--seed-count", "300"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        health = wait_healthy(base, process, deadline_s=120)
        assert health["status"] == "ok"
        assert health["database"] == "ok"
        assert health["elders"] == 300
        assert health["sms"] == "outbox"
        assert httpx.get(f"{base}/openapi.json", timeout=5).json()["info"]["title"]
        assert httpx.get(f"{base}/docs", timeout=5).status_code == 200
        centres = httpx.get(f"{base}/api/centres", timeout=5).json()
        assert len(centres) == 13
        assert (tmp_path / "data" / "eldercare.db").exists()
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Stopped." in output
    assert "Traceback" not in output


def test_second_start_does_not_seed_again(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELDERCARE_", "TWILIO_"))}
    env["ELDERCARE_DATA_DIR"] = str(tmp_path / "data")
    outputs = []
    for _ in range(2):
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "eldercare", "up", "--port", str(port), "--seed-count", "50"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            assert wait_healthy(f"http://127.0.0.1:{port}", process, deadline_s=120)["elders"] == 50
        finally:
            process.send_signal(signal.SIGINT)
            outputs.append(process.communicate(timeout=30)[0])
    assert "First start" in outputs[0]
    assert "First start" not in outputs[1]


def test_up_refuses_a_port_in_use_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ELDERCARE_")}
        env["ELDERCARE_DATA_DIR"] = str(tmp_path / "data")
        result = subprocess.run(
            [sys.executable, "-m", "eldercare", "up", "--port", str(port)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"Port {port}" in result.stderr and "in use" in result.stderr
