"""Settings: embedded defaults when servers are unset, environment and .env override them."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel.settings import Settings


def test_unset_servers_mean_embedded_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in (
        "ELDERCARE_DATABASE_URL",
        "ELDERCARE_REDIS_URL",
        "ELDERCARE_MQTT_URL",
        "TWILIO_ACCOUNT_SID",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert (
        settings.effective_database_url
        == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'eldercare.db'}"
    )
    assert settings.redis_url is None and settings.mqtt_url is None
    assert settings.sms_mode == "outbox"


def test_environment_and_dotenv_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "ELDERCARE_REDIS_URL=redis://127.0.0.1:6379/3\nTWILIO_ACCOUNT_SID=AC123\n"
        "TWILIO_AUTH_TOKEN=secret\nTWILIO_FROM=+15005550006\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("ELDERCARE_DATABASE_URL", "postgresql+asyncpg://u:p@db/eldercare")
    settings = Settings()
    assert settings.effective_database_url == "postgresql+asyncpg://u:p@db/eldercare"
    assert settings.redis_url == "redis://127.0.0.1:6379/3"
    assert settings.sms_mode == "twilio"
    assert "secret" not in repr(settings)
