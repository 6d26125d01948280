"""The FastAPI application: every feature's routes, the health check and the error handler."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from callcenter.accounts.endpoints import role_in
from callcenter.accounts.endpoints import router as accounts_router
from callcenter.care.tasks import run_baselines
from callcenter.care_calls.endpoints import router as care_calls_router
from callcenter.care_calls.tasks import run_care_calls
from callcenter.centres.endpoints import router as centres_router
from callcenter.console.endpoints import STATIC_PATH, api_docs_router, static_files
from callcenter.console.endpoints import router as console_router
from callcenter.coverage.endpoints import router as coverage_router
from callcenter.coverage.tasks import run_coverage
from callcenter.elders.endpoints import router as elders_router
from callcenter.family.endpoints import router as family_router
from callcenter.family.tasks import run_family_sender
from callcenter.incidents.endpoints import feed_router
from callcenter.incidents.endpoints import router as incidents_router
from callcenter.incidents.escalation import run_escalation
from callcenter.incidents.technical import run_device_checks
from callcenter.incidents.welfare import run_welfare_checks
from callcenter.pipeline import repository as pipeline_repository
from callcenter.pipeline.tasks import (
    CATCH_UP_LAG,
    URGENT_TYPES,
    Wake,
    run_pipeline,
    run_stream_pipeline,
)
from callcenter.privacy.endpoints import router as privacy_router
from callcenter.privacy.tasks import run_retention
from callcenter.register.endpoints import router as register_router
from callcenter.reports.endpoints import router as reports_router
from callcenter.rosters.endpoints import router as rosters_router
from callcenter.shifts.endpoints import router as shifts_router
from callcenter.staff.endpoints import router as staff_router
from callcenter.voice.endpoints import router as voice_router
from callcenter.workorders.endpoints import feed_router as work_order_feed_router
from callcenter.workorders.endpoints import router as work_orders_router
from callcenter.workorders.tasks import run_overdue_checks
from eldercare import __version__
from gateway.broker.embedded import start_embedded_broker
from gateway.dc09.endpoints import router as alarm_receivers_router
from gateway.dc09.runtime import AlarmReceiverRuntime
from gateway.ingest.endpoints import router as rejects_router
from gateway.mqtt import BrokerLogin
from gateway.runtime import GatewayRuntime
from gateway.websocket import router as device_socket_router
from kernel.bus import create_bus
from kernel.database import create_engine, session_factory
from kernel.errors import DomainError
from kernel.models import Device, Elder, StaffRole, utcnow
from kernel.settings import Role, Settings
from kernel.streams import EventStream
from kernel.supervisor import Supervisor
from kernel.web import (
    NoNulCharacters,
    SecurityHeaders,
    document_dependency_errors,
    redact_access_logs,
)

EMBEDDED_GATEWAY_USER = "eldercare-gateway"


# An alarm recorded but not judged this long means the alarm engine is down or behind: an SOS
# is judged within milliseconds when all is well, and catch-up takes what the stream missed
# within seconds (CATCH_UP_LAG).
ALARM_JUDGED_WITHIN = dt.timedelta(seconds=30)


class Health(BaseModel):
    """What /healthz answers: 503 with `problems` when anything keeps the process from serving."""

    status: str
    version: str
    database: str
    elders: int | None
    devices: int | None
    sms: str
    problems: dict[str, str] = {}


def create_app(
    settings: Settings, engine: AsyncEngine | None = None, *, mqtt: bool = True
) -> FastAPI:
    """The application for these settings; it makes its own engine unless one is given.

    With `mqtt` the gateway also takes uplinks from the broker: the one ELDERCARE_MQTT_URL names
    (through the shared subscription), else the embedded broker it starts itself.
    """
    owns_engine = engine is None
    db = engine or create_engine(settings.effective_database_url)

    runs_gateway = settings.role in (Role.ALL, Role.GATEWAY)
    runs_callcenter = settings.role in (Role.ALL, Role.CALLCENTER)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.engine = db
        app.state.bus = bus = create_bus(settings.redis_url, settings.redis_prefix)
        await bus.start()
        app.state.sessions = session_factory(db, bus)
        stream = (
            EventStream(settings.redis_url, settings.redis_prefix) if settings.redis_url else None
        )
        # Recorded events are announced on the Redis stream, else they wake this process's
        # pipeline; a gateway-only process without Redis leaves them to the call centres' poll.
        wake = Wake()
        announce = stream.append if stream else (wake if runs_callcenter else None)
        gateway = GatewayRuntime(app.state.sessions, settings, announce) if runs_gateway else None
        if gateway is not None:
            app.state.gateway = gateway
            app.state.ingest = gateway.ingest
            await gateway.start()
        receiver = None
        if gateway is not None and settings.dc09_port is not None:
            # The DC-09 receiver feeds this gateway's ingest path, under its supervisor.
            receiver = AlarmReceiverRuntime(
                app.state.sessions, gateway.ingest, gateway.writer, gateway.supervisor,
                host=settings.dc09_host, port=settings.dc09_port,
            )  # fmt: skip
            app.state.alarm_receiver = receiver
            await receiver.start()
        # The call centre's loops run under this one; the gateway's under its own.
        alarm_work = Supervisor()
        app.state.supervisor = alarm_work
        # One probe a process, whatever its role: the wait every step on this loop has.
        alarm_work.start("event-loop", alarm_work.watch_event_loop)
        if runs_callcenter:
            _start_alarm_work(alarm_work, app.state.sessions, settings, stream, wake)
        async with contextlib.AsyncExitStack() as stack:
            if mqtt and gateway is not None:
                gateway.start_mqtt(await _broker_login(settings, gateway, stack))
            try:
                yield
            finally:
                if receiver is not None:
                    await receiver.stop()
                if gateway is not None:
                    await gateway.stop()
                await alarm_work.stop()
                await bus.stop()
                if stream is not None:
                    await stream.close()
        if owns_engine:
            await db.dispose()

    app = FastAPI(
        title="Pinghu smart elderly-care call centre",
        version=__version__,
        description="Operator and worker API of the Pinghu street call centre. "
        "The device wire protocol is in docs/protocol.md.",
        lifespan=lifespan,
        # /docs is the project's own page (callcenter/console): Swagger UI from vendored files,
        # nothing from another site; FastAPI's pages load it, and ReDoc, from a CDN.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )

    # Every answer, pages and API alike, whatever the role of the process.
    app.add_middleware(NoNulCharacters)
    app.add_middleware(SecurityHeaders, cacheable=(STATIC_PATH,))
    redact_access_logs()
    document_dependency_errors(app)

    @app.exception_handler(DomainError)
    async def domain_error(_request: Request, error: DomainError) -> JSONResponse:
        headers = getattr(error, "headers", None)  # Retry-After of a 429, say
        return JSONResponse(status_code=error.status_code, content=error.body(), headers=headers)

    @app.get(
        "/healthz",
        response_model=Health,
        tags=["operations"],
        responses={503: {"model": Health, "description": "a loop is down or behind"}},
    )
    async def healthz(request: Request) -> JSONResponse:
        """Liveness and readiness: the database answers, every loop runs, no alarm waits.

        503 names what is wrong in `problems`: a loop that is down (restarting after a
        failure), the broker away, alarms recorded but not judged for ALARM_JUDGED_WITHIN.
        """
        state = request.app.state
        problems: dict[str, str] = dict(state.supervisor.problems())
        gateway: GatewayRuntime | None = getattr(state, "gateway", None)
        if gateway is not None:
            problems.update(gateway.problems())
        elders = devices = None
        database = "ok"
        try:
            async with state.sessions() as session:
                await session.execute(text("SELECT 1"))
                elders = await session.scalar(select(func.count()).select_from(Elder))
                devices = await session.scalar(select(func.count()).select_from(Device))
                if runs_callcenter:
                    waiting = await pipeline_repository.oldest_unjudged(session, URGENT_TYPES)
                    if waiting is not None and utcnow() - waiting > ALARM_JUDGED_WITHIN:
                        age = (utcnow() - waiting).total_seconds()
                        problems["alarm-engine"] = f"an alarm has waited {age:.0f} s to be judged"
        except (SQLAlchemyError, OSError) as error:
            database = f"error: {type(error).__name__}"
            problems["database"] = database
        body = Health(
            status="unavailable" if problems else "ok",
            version=__version__,
            database=database,
            elders=elders,
            devices=devices,
            sms=settings.sms_mode,
            problems=problems,
        )
        return JSONResponse(status_code=503 if problems else 200, content=body.model_dump())

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        """Prometheus metrics: messages in by type, rejects by reason, ingest lag, acks, online."""
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(api_docs_router)
    app.mount(STATIC_PATH, static_files(), name="console-static")
    if runs_gateway:
        app.include_router(device_socket_router)
    if not runs_callcenter:
        return app
    # Refused device payloads and the register's refused rows hold elders' data: only for
    # the signed-in staff who review them (the gateway and register packages know no accounts).
    floor = Depends(role_in(StaffRole.OPERATOR, StaffRole.SUPERVISOR, StaffRole.ADMIN))
    office = Depends(role_in(StaffRole.SUPERVISOR, StaffRole.ADMIN))
    app.include_router(rejects_router, dependencies=[floor])
    app.include_router(alarm_receivers_router, dependencies=[floor])
    app.include_router(incidents_router)
    app.include_router(feed_router)
    app.include_router(centres_router)
    app.include_router(register_router, dependencies=[office])
    app.include_router(elders_router)
    app.include_router(privacy_router)
    app.include_router(staff_router)
    app.include_router(rosters_router)
    app.include_router(shifts_router)
    app.include_router(family_router)
    app.include_router(voice_router)
    # Sign-in and the browser console (pages, their scripts and styles).
    app.include_router(accounts_router)
    app.include_router(console_router)
    app.include_router(reports_router)
    app.include_router(care_calls_router)
    app.include_router(coverage_router)
    app.include_router(work_orders_router)
    app.include_router(work_order_feed_router)
    return app


def _start_alarm_work(
    supervisor: Supervisor,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    stream: EventStream | None,
    wake: Wake,
) -> None:
    """The call centre's background work, supervised: the alarm pipeline (in-process by
    default; over the Redis stream with the catch-up reader behind it when Redis is
    configured), escalation, the welfare and technical checks, the SMS sender, and the
    anonymising of elders whose retention period is over; the work orders' overdue check; the
    day's care-call list; coverage's notices of gaps."""
    stop = supervisor.stop_signal
    if stream is None:
        supervisor.start("pipeline", lambda: run_pipeline(sessions, settings, stop, wake=wake))
    else:
        consumer = f"{socket.gethostname()}-{os.getpid()}"
        supervisor.start(
            "stream-pipeline",
            lambda: run_stream_pipeline(sessions, settings, stream, stop, consumer=consumer),
        )
        supervisor.start(
            "catch-up", lambda: run_pipeline(sessions, settings, stop, lag=CATCH_UP_LAG)
        )
    supervisor.start("escalation", lambda: run_escalation(sessions, settings, stop))
    supervisor.start("welfare", lambda: run_welfare_checks(sessions, settings, stop))
    supervisor.start("technical", lambda: run_device_checks(sessions, settings, stop))
    supervisor.start("family-sms", lambda: run_family_sender(sessions, settings, stop))
    supervisor.start("retention", lambda: run_retention(sessions, settings, stop))
    supervisor.start("baselines", lambda: run_baselines(sessions, settings, stop))
    supervisor.start("care-calls", lambda: run_care_calls(sessions, settings, stop))
    supervisor.start("coverage", lambda: run_coverage(sessions, settings, stop))
    supervisor.start("work-orders", lambda: run_overdue_checks(sessions, settings, stop))


async def _broker_login(
    settings: Settings, gateway: GatewayRuntime, stack: contextlib.AsyncExitStack
) -> BrokerLogin:
    """The gateway's login to the external broker, or to an embedded one started here."""
    external = settings.mqtt_login
    if external is not None:
        host, port, username, password = external
        return BrokerLogin(
            host, port, username, password, settings.gateway_id, settings.mqtt_shared_group
        )
    # The embedded broker lives and dies with this process, so its gateway password does too.
    password = secrets.token_urlsafe(18)
    broker = await start_embedded_broker(
        host="127.0.0.1",
        port=settings.mqtt_port,
        check_login=gateway.registry.check_login,
        gateway_username=EMBEDDED_GATEWAY_USER,
        gateway_password=password,
    )
    stack.push_async_callback(broker.stop)
    return BrokerLogin(
        "127.0.0.1", broker.port, EMBEDDED_GATEWAY_USER, password, settings.gateway_id, None
    )
