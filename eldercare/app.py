"""The FastAPI application: every feature's routes, the health check and the error handler."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.centres.endpoints import router as centres_router
from callcenter.register.endpoints import router as register_router
from eldercare import __version__
from kernel.database import create_engine, session_factory
from kernel.errors import DomainError
from kernel.models import Device, Elder
from kernel.settings import Settings


class Health(BaseModel):
    """What /healthz answers."""

    status: str
    version: str
    database: str
    elders: int | None
    devices: int | None
    sms: str


def create_app(settings: Settings, engine: AsyncEngine | None = None) -> FastAPI:
    """The application for these settings; it makes its own engine unless one is given."""
    owns_engine = engine is None
    db = engine or create_engine(settings.effective_database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.engine = db
        app.state.sessions = session_factory(db)
        yield
        if owns_engine:
            await db.dispose()

    app = FastAPI(
        title="Pinghu smart elderly-care call centre",
        version=__version__,
        description="Operator and worker API of the Pinghu street call centre. "
        "The device wire protocol is in docs/protocol.md.",
        lifespan=lifespan,
    )

    @app.exception_handler(DomainError)
    async def domain_error(_request: Request, error: DomainError) -> JSONResponse:
        return JSONResponse(status_code=error.status_code, content=error.body())

    @app.get("/healthz", response_model=Health, tags=["operations"])
    async def healthz(request: Request) -> JSONResponse:
        """Liveness and readiness: the database answers, and how much it holds."""
        try:
            async with request.app.state.sessions() as session:
                await session.execute(text("SELECT 1"))
                elders = await session.scalar(select(func.count()).select_from(Elder))
                devices = await session.scalar(select(func.count()).select_from(Device))
        except (SQLAlchemyError, OSError) as error:
            body = Health(
                status="unavailable",
                version=__version__,
                database=f"error: {type(error).__name__}",
                elders=None,
                devices=None,
                sms=settings.sms_mode,
            )
            return JSONResponse(status_code=503, content=body.model_dump())
        body = Health(
            status="ok",
            version=__version__,
            database="ok",
            elders=elders,
            devices=devices,
            sms=settings.sms_mode,
        )
        return JSONResponse(content=body.model_dump())

    app.include_router(centres_router)
    app.include_router(register_router)
    return app
