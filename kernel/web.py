"""What every HTTP route shares: a unit of work per request, the security headers of every
answer, access logs that keep what people searched for out of them, and an OpenAPI that shows
the errors each route can answer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Annotated, Any
from urllib.parse import parse_qsl, unquote_to_bytes

from fastapi import Depends, FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import validation_error_definition, validation_error_response_definition
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel import bus
from kernel.errors import ErrorBody, errors_raised_by


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request, committed when the route returns, rolled back if it raises."""
    async with request.app.state.sessions() as session, session.begin():
        yield session


# scope="function": the commit happens before the response leaves. With FastAPI's default
# ("request") a client could be told 200 before its write was committed, read its own write
# back and not find it, or be told 200 for a write whose commit then failed.
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]


# The console is the app's own scripts and style sheet and nothing else: no inline script, no
# other site, never inside another site's frame (a framed console could be clicked through).
CONSOLE_POLICY = "; ".join([
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    "font-src 'self'", "connect-src 'self'", "manifest-src 'self'", "base-uri 'none'",
    "form-action 'self'", "frame-ancestors 'none'",
])  # fmt: skip


class SecurityHeaders:
    """Adds the security headers to every HTTP answer: the content security policy, no
    framing, no type sniffing, no referrer, and no-store (pages and API answers carry personal
    data; only the static scripts and style sheets under `cacheable` may be kept)."""

    def __init__(self, app: ASGIApp, cacheable: Iterable[str] = ()) -> None:
        self.app = app
        self.cacheable = tuple(cacheable)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        cache = any(path.startswith(prefix) for prefix in self.cacheable)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = CONSOLE_POLICY
                headers["X-Frame-Options"] = "DENY"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                if not cache:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class NoNulCharacters:
    """Refuses, with a 422, a request whose path, query or body holds a NUL character.

    No text the API keeps may hold one (PostgreSQL's text cannot, and its driver raised on it:
    a note or a search with `\\u0000` was a 500); refused here, in one place, before any route
    or driver sees it. A body is read whole only when it holds a NUL byte or a `\\u0000`
    escape, and then parsed to tell an escaped backslash from a real NUL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"\x00" in unquote_to_bytes(scope["query_string"]):
            await _refuse_nul(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if _holds_nul(body):
            await _refuse_nul(scope, receive, send)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _holds_nul(body: bytes) -> bool:
    if b"\x00" in body:
        return True
    if b"\\u0000" not in body:
        return False
    try:
        return _has_nul(json.loads(body))
    except ValueError:
        return False  # not JSON: its route refuses it as it is


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


async def _refuse_nul(scope: Scope, receive: Receive, send: Send) -> None:
    body = ErrorBody(code="nul_character", message="text may not hold a NUL character")
    await JSONResponse(body.model_dump(), status_code=422)(scope, receive, send)


def without_query_values(target: str) -> str:
    """A request target with its query's values left out: '/api/elders?q=王&phone=1' gives
    '/api/elders?q=&phone=' (what was searched for is personal data; which fields were used
    is what an operator reading the log needs)."""
    path, mark, query = target.partition("?")
    if not mark:
        return target
    names = [name for name, _value in parse_qsl(query, keep_blank_values=True)]
    return f"{path}?{'&'.join(f'{name}=' for name in names)}" if names else f"{path}?"


class QueryValuesRedacted(logging.Filter):
    """Takes query values out of uvicorn's access lines ('GET /path?q=... HTTP/1.1') and its
    WebSocket lines ('"WebSocket /path?..." [accepted]'); request bodies are never logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(_is_target(arg) for arg in record.args):
            record.args = tuple(
                without_query_values(arg) if isinstance(arg, str) and _is_target(arg) else arg
                for arg in record.args
            )
        return True


def _is_target(value: object) -> bool:
    return isinstance(value, str) and value.startswith("/") and "?" in value


ACCESS_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact_access_logs() -> None:
    """Put QueryValuesRedacted on uvicorn's loggers (once; the filter outlives its logging
    config being applied again)."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, QueryValuesRedacted) for f in logger.filters):
            logger.addFilter(QueryValuesRedacted())


SCHEMAS = "#/components/schemas/"


def document_dependency_errors(app: FastAPI) -> None:
    """Make the app's OpenAPI show every error answer a route can give that FastAPI does not see
    in the route itself: the domain errors its dependencies raise (`kernel.errors.raises`: 401
    not signed in, 403 a role it needs); FastAPI's validation error beside a route's own 422
    (declaring a DomainError's 422 hides the validation error's shape from FastAPI's OpenAPI,
    while invalid input still gets it); FastAPI's 400 for a JSON body that is not UTF-8; and
    domain errors as the JSON they are on routes that answer CSV or text."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()  # FastAPI keeps it in app.openapi_schema: changed once, in place
        if schema.get("x-dependency-errors"):
            return schema
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        # Each route as the app serves it, with the dependencies of the routers it was included by.
        for route in iter_route_contexts(app.routes):
            if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
                continue
            errors = [
                e for call in _dependency_calls(route.dependant) for e in errors_raised_by(call)
            ]
            for method in route.methods or ():
                operation = schema["paths"].get(route.path_format, {}).get(method.lower())
                if operation is not None:
                    _document(operation, errors, components)
        schema["x-dependency-errors"] = True
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _dependency_calls(dependency)


# FastAPI's answer to a JSON body it cannot decode as UTF-8 (an HTTPException, not a
# validation error: invalid JSON in readable text is a 422).
UNREADABLE_BODY = {
    "description": "The body is not UTF-8 text.",
    "content": {"application/json": {"schema": {"$ref": SCHEMAS + "HTTPError"}}},
}
HTTP_ERROR = {
    "title": "HTTPError",
    "type": "object",
    "properties": {"detail": {"type": "string", "title": "Detail"}},
    "required": ["detail"],
}


def _document(operation: dict[str, Any], errors: list[Any], components: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    error_body = {"$ref": SCHEMAS + "ErrorBody"}
    # One handler renders every domain error as JSON, whatever the route's own answers are.
    for status, response in responses.items():
        content = response.get("content", {})
        if status >= "400" and any(c.get("schema") == error_body for c in content.values()):
            response["content"] = {"application/json": {"schema": error_body}}
    if "application/json" in operation.get("requestBody", {}).get("content", {}):
        responses.setdefault("400", UNREADABLE_BODY)
        components.setdefault("HTTPError", HTTP_ERROR)
    for error in errors:
        if str(error.status_code) not in responses:
            responses[str(error.status_code)] = {
                "description": error.__doc__ or error.code,
                "content": {"application/json": {"schema": error_body}},
            }
            components.setdefault(
                "ErrorBody", ErrorBody.model_json_schema(ref_template=SCHEMAS + "{model}")
            )
    invalid = responses.get("422")
    validates = "parameters" in operation or "requestBody" in operation
    if invalid is None or not validates:
        return
    content = invalid.setdefault("content", {}).setdefault("application/json", {})
    shape = content.get("schema", {})
    validation = {"$ref": SCHEMAS + "HTTPValidationError"}
    if shape == validation or validation in shape.get("anyOf", []):
        return
    content["schema"] = {"anyOf": [shape, validation]} if shape else validation
    invalid["description"] = f"{invalid.get('description', '')} Or: the input is not valid.".strip()
    components.setdefault("ValidationError", validation_error_definition)
    components.setdefault("HTTPValidationError", validation_error_response_definition)


async def relay_to_socket(
    websocket: WebSocket,
    changes: asyncio.Queue[bus.Message],
    wanted: Callable[[bus.Message], bool],
) -> None:
    """Accept the socket and send it every change it may hear (`wanted`), as it comes, until the
    client goes; what the client sends is read and ignored. Subscribe before calling: a page
    reloads its list when the socket opens, so a change committed between that and a later
    subscription would reach it never."""
    await websocket.accept()
    gone = asyncio.create_task(_until_closed(websocket))
    try:
        while True:
            change = asyncio.create_task(changes.get())
            await asyncio.wait({change, gone}, return_when=asyncio.FIRST_COMPLETED)
            if gone.done():
                change.cancel()
                return
            message = change.result()
            if wanted(message):
                await websocket.send_json(message)
    except WebSocketDisconnect:
        return
    finally:
        gone.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await gone


async def _until_closed(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, until it goes."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()
