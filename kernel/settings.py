"""Process settings: environment variables and an optional `.env`, embedded defaults when a server is unset."""

from __future__ import annotations

import enum
import logging
import os
import socket
import stat
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

# The data folder holds personal data: the SQLite file (ID numbers, phones, health, device
# secrets) and its -wal/-shm, register files, the demo password. Only its owner may read it.
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
# New files of a process that writes personal data are owner-only from the start.
PRIVATE_UMASK = 0o077


class Role(enum.StrEnum):
    """What one process runs: everything, only the device gateway, or only the call centre."""

    ALL = "all"
    GATEWAY = "gateway"
    CALLCENTER = "callcenter"


class EventLoop(enum.StrEnum):
    """The event loop `eldercare up` runs on."""

    UVLOOP = "uvloop"
    ASYNCIO = "asyncio"


class Settings(BaseSettings):
    """Everything a process needs to know about where it runs; unset servers mean embedded defaults."""

    model_config = SettingsConfigDict(
        env_prefix="ELDERCARE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default=Path("data"), description="Local folder for the SQLite file, outbox and reports."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL, e.g. postgresql+asyncpg://user:pw@host/db; "
        "unset: SQLite file in data_dir.",
    )
    redis_url: str | None = Field(
        default=None, description="redis://host:6379/0; unset: the in-process event pipeline."
    )
    redis_prefix: str = Field(
        default="eldercare:",
        description="Prefix of every Redis key and channel (several streets on one Redis).",
    )
    mqtt_url: str | None = Field(
        default=None,
        description="mqtt://user:pw@host:1883 of an external broker; unset: the embedded broker.",
    )
    role: Role = Field(
        default=Role.ALL,
        description="What this process runs: everything (one machine), only the device gateway "
        "(MQTT and WebSocket ingest), or only the call centre (alarm engine, API, console, SMS). "
        "Several of each share one database, broker and Redis.",
    )
    event_loop: EventLoop = Field(
        default=EventLoop.UVLOOP,
        description="uvloop (libuv, in C; an SOS reaches the live feed sooner under load, "
        "docs/alarms.md) or asyncio (the standard library's loop).",
    )
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    mqtt_port: int = Field(default=1883, description="Port of the embedded broker.")
    mqtt_shared_group: str = Field(
        default="eldercare-gateway",
        description="Shared-subscription group of the gateway processes on an external broker.",
    )
    gateway_id: str = Field(
        default_factory=lambda: f"gateway-{socket.gethostname()}",
        description="MQTT client id of this gateway process; unique per process, stable across "
        "restarts (the broker keeps its session and queued messages under it).",
    )
    device_offline_after_s: int = Field(
        default=600, description="A device silent this long (no heartbeat, no message) is offline."
    )
    max_clock_skew_s: int = Field(
        default=86_400, description="Readings stamped further than this from now are rejected."
    )
    ack_escalate_after_s: int = Field(
        default=60, description="An incident not acknowledged this long goes to the next people."
    )
    supervisor_escalate_after_s: int = Field(
        default=180, description="Not acknowledged this long, an incident goes to the supervisor."
    )
    fall_confidence_min: float = Field(
        default=0.6, description="Falls detected with less confidence raise no alarm."
    )
    cancel_window_s: int = Field(
        default=300, description="An elder's cancel within this long marks the alarm cancelled."
    )
    # Ten minutes: time to finish the call in hand and ring twice (an elder may take a minute or
    # two to reach the phone), and no longer than a worker sent at the press would have taken to
    # walk to the door (4 km/h and 2 minutes to set off: about 10 minutes within a community).
    callback_due_after_s: int = Field(
        default=600,
        ge=1,
        description="An alarm the elder cancelled in time becomes a call-back task, due this "
        "long after the cancel; not called back by then, the supervisor is told.",
    )
    night_starts: str = Field(
        default="22:00", description="Local time night begins (wandering alarms)."
    )
    night_ends: str = Field(default="06:00", description="Local time night ends.")
    onsite_escalate_after_s: int = Field(
        default=1800,
        description="A P1 with nobody on site this long after it opened escalates again.",
    )
    # The street's promise to its elders, reported against (callcenter/reports, docs/care.md):
    # 90% of alarms someone went to reached within this long of reaching the console. Fifteen
    # minutes is a worker's walk across a community from its centre (about 1 km at 4 km/h).
    onsite_target_min: int = Field(
        default=15,
        ge=1,
        le=240,
        description="The hops report's on-site target: 90% of alarms reached within this long.",
    )
    welfare_quiet_hours: float = Field(
        default=12.0,
        description="An elder living alone whose door has not moved this long (checked by day) "
        "gets a welfare check.",
    )
    welfare_check_every_s: float = Field(default=60.0, description="How often doors are checked.")
    # --- Personal baselines and trend notices (callcenter/care; docs/care.md) ---------------
    care_check_every_s: float = Field(
        default=3600.0,
        gt=0,
        description="How often the baseline task looks again: its first round of a local day "
        "works every elder's baselines out from their readings and compares their recent days "
        "(which change only as a day completes); the rounds in between end the silence of a "
        "monitor reporting again, within this long of its reading.",
    )
    care_review_days: int = Field(
        default=3,
        ge=1,
        description="A trend notice is due this many days after it opens: a call or a visit "
        "from the elder's community centre this week, never an alarm's escalation.",
    )
    technical_offline_grace_s: int = Field(
        default=300, description="A device offline this long raises a technical alarm."
    )
    technical_check_every_s: float = Field(
        default=30.0, description="How often offline and low-battery devices are checked."
    )
    battery_low_pct: int = Field(
        default=20, description="Battery below this raises a technical alarm."
    )
    power_cut_min_devices: int = Field(
        default=5, description="This many devices of one community dropping together: a power cut."
    )
    power_cut_window_s: int = Field(
        default=120, description="Devices dropping within this long of each other drop together."
    )
    privacy_retention_days: int = Field(
        default=1096,
        ge=1,
        description="An elder marked deceased or moved away is anonymised this many days after "
        "the later of that day and the day it was recorded: three years, the general limitation "
        "period for civil claims (Civil Code art. 188), so the record of how their alarms were "
        "answered outlives any claim about it (docs/operations.md, Privacy).",
    )
    # --- Work orders: the green key's service requests (callcenter/workorders) --------------
    work_order_accept_within_min: int = Field(
        default=30,
        ge=1,
        description="A new service request is accepted within this many minutes of its "
        "centre's open hours: the elder heard '已收到' and waits for a call back, as for a "
        "missed call returned; half an hour still leaves a meal asked for at 11:00 in time for "
        "lunch. Past it the order is overdue and reported to the centre and the supervisor.",
    )
    work_order_schedule_within_h: float = Field(
        default=4.0,
        gt=0,
        description="An accepted order has its appointment (or is done) within this many hours "
        "of its centre's open hours: a morning request is arranged the same day.",
    )
    work_order_done_grace_min: int = Field(
        default=120,
        ge=0,
        description="A scheduled order is marked done this long after its appointment at the "
        "latest: the visit itself, then the way back and the note.",
    )
    work_order_check_every_s: float = Field(
        default=30.0,
        gt=0,
        description="How often work orders are checked for a deadline passed (minutes matter "
        "here, not seconds: no order is an alarm).",
    )
    # --- Maintenance work orders for the installer (callcenter/workorders/maintenance.py) -----
    # A power cut or a router restarting drops devices for minutes; the technical alarm has told
    # the floor at once. An hour later it is a device or a home to see to, not an outage.
    maintenance_after_min: int = Field(
        default=60,
        ge=0,
        description="A device offline, a panel on its backup battery or a panel's periodic "
        "test late this long gets a maintenance order for the installer.",
    )
    # A terminal below the low mark still runs for days (20 % of a week's charge); a visit on
    # the installer's round within two days, before it is flat.
    maintenance_battery_within_h: float = Field(
        default=48.0, gt=0, description="A low battery's order is due this long after it opens."
    )
    # An offline terminal cannot call for help: the next day at the latest.
    maintenance_offline_within_h: float = Field(
        default=24.0, gt=0, description="An offline device's order is due this long after it opens."
    )
    # A panel on its backup battery lasts about a day (DC-09 panels: 24 h standby typically).
    maintenance_mains_within_h: float = Field(
        default=24.0, gt=0, description="A mains-lost order is due this long after it opens."
    )
    # A failed or missing self-test: the panel still calls, but may not for long.
    maintenance_test_within_h: float = Field(
        default=48.0, gt=0, description="A self-test order is due this long after it opens."
    )
    # The protocol's devices beat once a minute (the terminals the street buys, the simulators);
    # shown in the self-test report as their expected interval. One is overdue after
    # `device_offline_after_s` of silence, when the gateway takes it offline.
    heartbeat_every_s: int = Field(
        default=60, ge=1, description="How often a protocol device sends its heartbeat."
    )
    # --- Proactive care calls (callcenter/care_calls; docs/care.md) ---------------------------
    care_calls_every_s: float = Field(
        default=300.0,
        gt=0,
        description="How often the day's care-call list is made again: a new day's list within "
        "this long of midnight, and a call owed since (a hospital stay ended, an elder back "
        "from away, a follow-up date come) or no longer owed (died, moved, gone into hospital) "
        "within this long. Five minutes: nothing on the list is an alarm.",
    )
    care_calls_first_spread_days: int = Field(
        default=7,
        ge=1,
        le=28,
        description="The first weekly call of elders never called yet is spread over this many "
        "days (by elder), so that starting the programme, or importing a register, does not put "
        "every elder living alone on one day's list; 1 calls them all on the first day.",
    )
    care_calls_after_hospital_days: int = Field(
        default=7,
        ge=1,
        le=60,
        description="Daily calls for this many days from the day a hospital stay ends (an away "
        "period whose reason says 住院, 医院 or hospital): the first week home is when "
        "readmissions and falls cluster.",
    )
    care_calls_after_incident_days: int = Field(
        default=7,
        ge=1,
        le=60,
        description="Daily calls for this many days from the day after a P1 or P2 incident of "
        "the elder was resolved (not a false alarm, a press by mistake, a device test or a "
        "duplicate).",
    )
    care_calls_weather_age: int = Field(
        default=80,
        ge=60,
        le=120,
        description="On the day of an extreme-weather warning, everyone of this age or older "
        "living alone is owed a call.",
    )
    care_calls_hours: str = Field(
        default="08:00-21:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$",
        description="Local hours in which elders are called (nobody is woken for a routine "
        "call): the community centre in its open hours with someone on duty, the street centre "
        "in the rest of them (00:00-00:00: at any hour). Outside them the list waits; a call "
        "made is still recorded.",
    )
    # --- Coverage assurance (callcenter/coverage; docs/care.md) -----------------------------
    # Five minutes: a worker signing out sick is told to the supervisors within this long of
    # the absence being recorded, well before the hour it leaves empty; nothing here is an alarm.
    coverage_check_every_s: float = Field(
        default=300.0,
        gt=0,
        description="How often today's and tomorrow's coverage is checked and a notice recorded "
        "for each new gap (a centre with nobody on duty in its open hours).",
    )
    timezone: str = Field(default="Asia/Shanghai", description="Local time of the street.")
    log_level: str = "INFO"

    # --- SIA DC-09 alarm receiver (gateway/dc09; docs/dc09.md) -----------------------------
    dc09_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="TCP and UDP port of the SIA DC-09 alarm receiver on a gateway process; "
        "unset: no receiver (alarm panels need accounts registered first).",
    )
    dc09_host: str = Field(
        default="127.0.0.1",
        description="Address the DC-09 receiver listens on (0.0.0.0 for panels on the internet).",
    )
    # --- end of SIA DC-09 ------------------------------------------------------------------

    twilio_account_sid: str | None = Field(
        default=None, validation_alias=AliasChoices("TWILIO_ACCOUNT_SID")
    )
    twilio_auth_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TWILIO_AUTH_TOKEN")
    )
    twilio_from: str | None = Field(default=None, validation_alias=AliasChoices("TWILIO_FROM"))
    twilio_messaging_service_sid: str | None = Field(
        default=None, validation_alias=AliasChoices("TWILIO_MESSAGING_SERVICE_SID")
    )
    twilio_api_base: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TWILIO_API_BASE"),
        description="Override of https://api.twilio.com, for a local fake in tests.",
    )

    # --- Family SMS (callcenter/family; docs/sms.md) ---------------------------------------
    sms_public_url: str | None = Field(
        default=None,
        description="This call centre's base URL as Twilio reaches it (https://cc.example.cn): "
        "delivery callbacks go to <it>/api/sms/status and their signatures are checked "
        "against it. Unset: no delivery callbacks are asked for.",
    )
    sms_priorities: list[int] = Field(
        default=[1, 2], description="Incident priorities whose steps the family is told of."
    )
    sms_kinds: list[str] = Field(
        default=["sos", "fall", "vitals", "wandering"],
        description="Incident kinds whose steps the family is told of (welfare: sms_welfare_findings).",
    )
    sms_welfare_findings: bool = Field(
        default=True,
        description="Tell the family when a welfare check resolves with anything but a false alarm.",
    )
    sms_contacts: int = Field(
        default=2,
        description="Contacts tried in the register's order: the first always, each next one "
        "only when those before it were not reached.",
    )
    sms_unreached_after_s: int = Field(
        default=180,
        description="A contact with no delivery receipt this long after the step is not reached.",
    )
    sms_per_number_hour: int = Field(default=5, description="Messages to one number per hour.")
    sms_per_number_day: int = Field(default=20, description="Messages to one number per day.")
    sms_quiet_starts: str = Field(
        default="22:00", description="Local time from which non-urgent messages wait (P2 and up)."
    )
    sms_quiet_ends: str = Field(default="07:00", description="Local time quiet hours end.")
    sms_max_attempts: int = Field(
        default=8, description="Transient failures (timeouts, 5xx, 429) retried this many times."
    )
    sms_timeout_s: float = Field(default=10.0, description="One Twilio API call's time limit.")
    sms_sending_lease_s: float = Field(
        default=60.0,
        description="A message 'sending' this long belongs to a crashed sender: Twilio is asked "
        "whether it took it before anything is resent.",
    )
    # --- end of family SMS ----------------------------------------------------------------

    # --- Voice: click-to-call (callcenter/voice; docs/voice.md) ---------------------------
    twilio_voice_from: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TWILIO_VOICE_FROM"),
        description="The Twilio number calls come from (the operator's phone and the party "
        "called both see it); unset: TWILIO_FROM.",
    )
    voice_public_url: str | None = Field(
        default=None,
        description="This call centre's base URL as Twilio reaches it, for the call's TwiML and "
        "its status callbacks (signatures are checked against it); unset: "
        "ELDERCARE_SMS_PUBLIC_URL. Without either, the console keeps tel: links.",
    )
    voice_ring_s: int = Field(
        default=30,
        ge=5,
        le=600,
        description="How long the operator's phone, then the called party's, rings unanswered.",
    )
    voice_area_code: str = Field(
        default="0755",
        pattern=r"^0\d{2,3}$",
        description="The area code of local landlines written without one (Shenzhen: 0755).",
    )
    # --- end of voice ---------------------------------------------------------------------

    @property
    def effective_database_url(self) -> str:
        """The configured database, or the embedded SQLite file under data_dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'eldercare.db').resolve()}"

    @property
    def mqtt_login(self) -> tuple[str, int, str, str] | None:
        """(host, port, username, password) of the external broker, or None for the embedded one."""
        if not self.mqtt_url:
            return None
        url = urlsplit(self.mqtt_url)
        if url.scheme not in {"mqtt", "tcp"} or not url.hostname:
            raise ValueError(
                f"ELDERCARE_MQTT_URL must look like mqtt://user:pw@host:1883, not {url.scheme}://…"
            )
        return (
            url.hostname,
            url.port or 1883,
            unquote(url.username or ""),
            unquote(url.password or ""),
        )

    @property
    def tz(self) -> ZoneInfo:
        """The street's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def voice_caller_id(self) -> str | None:
        """The Twilio number calls are placed from."""
        return self.twilio_voice_from or self.twilio_from

    @property
    def voice_callback_base(self) -> str | None:
        """This centre's base URL for Twilio's voice requests, or None."""
        base = self.voice_public_url or self.sms_public_url
        return base.rstrip("/") if base else None

    @property
    def voice_mode(self) -> str:
        """'twilio' when credentials, a number to call from and a public URL are set, else 'off'
        (the console keeps tel: links)."""
        has_account = bool(self.twilio_account_sid and self.twilio_auth_token)
        if has_account and self.voice_caller_id and self.voice_callback_base:
            return "twilio"
        return "off"

    @property
    def sms_mode(self) -> str:
        """'twilio' when credentials and a sender are set, else 'outbox'."""
        has_sender = bool(self.twilio_from or self.twilio_messaging_service_sid)
        if self.twilio_account_sid and self.twilio_auth_token and has_sender:
            return "twilio"
        return "outbox"


def make_data_dir_private(data_dir: Path) -> list[tuple[Path, int]]:
    """Create the data folder owner-only (0700), and take group and other access away from it
    and from everything in it that has some (files 0600); each change is logged. Returns what
    was tightened, with its mode before."""
    data_dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    tightened: list[tuple[Path, int]] = []
    for path in [data_dir, *sorted(data_dir.rglob("*"))]:
        status = path.lstat()
        if stat.S_ISLNK(status.st_mode):
            continue  # its target is not ours to change
        mode = stat.S_IMODE(status.st_mode)
        private = PRIVATE_DIR_MODE if stat.S_ISDIR(status.st_mode) else PRIVATE_FILE_MODE
        if mode & ~private:
            os.chmod(path, mode & private)
            log.warning("%s was readable by others (%o): now %o", path, mode, mode & private)
            tightened.append((path, mode))
    return tightened


@lru_cache
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()
