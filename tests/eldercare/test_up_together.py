"""Two `eldercare up` started together on one fresh database take turns at start-up: one
migration, one seeded register, one demo password that signs every demo account in."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import func, select

from kernel.database import create_engine, session_factory
from kernel.models import Elder, RegisterImport, StaffMember
from tests.conftest import free_port
from tests.eldercare.test_up import Running, clean_env, wait_healthy

SEED_COUNT = 40


def start(folder: Path, database_url: str, role: str) -> Running:
    """`eldercare up --role ROLE` on the shared database, with a data folder of its own."""
    folder.mkdir()
    port, mqtt_port = free_port(), free_port()
    env = clean_env(folder) | {"ELDERCARE_DATABASE_URL": database_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "eldercare", "up", "--role", role, "--port", str(port),
         "--mqtt-port", str(mqtt_port), "--seed-count", str(SEED_COUNT), "--no-demo"],
        cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    return Running(process, port, mqtt_port)


async def what_was_kept(database_url: str) -> tuple[int, int, set[str]]:
    """(elders, register imports, the demo staff's distinct password hashes)."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            elders = await session.scalar(select(func.count()).select_from(Elder))
            imports = await session.scalar(select(func.count()).select_from(RegisterImport))
            hashes = await session.scalars(
                select(StaffMember.password_hash).where(StaffMember.active)
            )
            return elders or 0, imports or 0, {str(password_hash) for password_hash in hashes}
    finally:
        await engine.dispose()


def signs_in(password_hash: str, password: str) -> bool:
    try:
        return PasswordHasher().verify(password_hash, password)
    except VerificationError:
        return False


def test_two_processes_started_together_seed_once_and_share_one_demo_password(
    tmp_path: Path, database_url: str
) -> None:
    # Both serve a console, so both would give the demo staff a password; one also runs the
    # gateway and its broker. Each has a data folder of its own, as on two machines.
    both = [start(tmp_path / "all", database_url, "all"),
            start(tmp_path / "centre", database_url, "callcenter")]  # fmt: skip
    outputs = []
    try:
        for running in both:
            assert (
                wait_healthy(running.base, running.process, deadline_s=120)["elders"] == SEED_COUNT
            )
        kept = {
            folder.name: (folder / "data" / "demo-accounts.txt").read_text().splitlines()[0]
            for folder in (tmp_path / "all", tmp_path / "centre")
            if (folder / "data" / "demo-accounts.txt").exists()
        }
        assert len(kept) == 1, kept  # written down once, by the first to give it
        (password,) = kept.values()
        for running in both:
            signed_in = httpx.post(
                f"{running.base}/api/auth/sign-in",
                json={"username": "op1", "password": password},
                timeout=10,
            )
            assert signed_in.status_code == 200, signed_in.text
    finally:
        for running in both:
            running.process.send_signal(signal.SIGINT)
            outputs.append(running.process.communicate(timeout=30)[0])
    for running, output in zip(both, outputs, strict=True):
        assert running.process.returncode == 0, output
        assert "Traceback" not in output
    assert sum("First start" in output for output in outputs) == 1
    elders, imports, hashes = asyncio.run(what_was_kept(database_url))
    assert (elders, imports) == (SEED_COUNT, 1)
    assert hashes and all(signs_in(password_hash, password) for password_hash in hashes)
    # The one without the file does not print a password it cannot know; it says where it is.
    (without,) = [o for f, o in zip(("all", "centre"), outputs, strict=True) if f not in kept]
    assert password not in without and "data folder of the" in without
