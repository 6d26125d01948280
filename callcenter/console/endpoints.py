"""The pages of the call-centre console and the community worker page, served by the app itself.

Each page is a Jinja2 template that the server fills with the signed-in person and the words of
their language; its script (vanilla JS under `static/`) talks to the same JSON API and live feed
any client uses. No front-end build: what is in `templates/` and `static/` is what the browser gets.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlsplit

from fastapi import APIRouter, Cookie, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from callcenter.accounts import permissions
from callcenter.accounts.endpoints import signed_in_member
from callcenter.accounts.permissions import Action
from callcenter.accounts.service import actor_of
from callcenter.centres.service import centre_facts
from callcenter.console.texts import language_of, texts_for
from kernel.bounds import Id
from kernel.models import CentreTier, StaffMember, StaffRole

HERE = Path(__file__).parent
STATIC_PATH = "/console/static"
LANGUAGE_COOKIE = "lang"

router = APIRouter(include_in_schema=False)
# The API's own documentation and the site's icon: served whatever the process's role.
api_docs_router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=HERE / "templates")
Language = Annotated[str | None, Cookie(alias=LANGUAGE_COOKIE)]

EVERYONE = frozenset(StaffRole)
FLOOR = frozenset({StaffRole.SUPERVISOR, StaffRole.ADMIN})
# The wall board: the street's staff (operators watch it on the floor too), not the phone page.
BOARD = frozenset({StaffRole.OPERATOR, StaffRole.SUPERVISOR, StaffRole.ADMIN})


def static_files() -> StaticFiles:
    """The pages' scripts and style sheet, to mount at STATIC_PATH."""
    return StaticFiles(directory=HERE / "static")


# A backslash is a slash to browsers ('/\evil.example' is another site), and they drop tabs and
# newlines from a URL ('/\t/evil.example' becomes '//evil.example').
_NOT_IN_A_NEXT = re.compile(r"[\\\x00-\x1f\x7f]")
MAX_NEXT = 2_000


def safe_next(value: str | None) -> str | None:
    """`value` if it is a path on this site to go on to after signing in, else None: never
    another site ('//host', '/\\host', 'https:…', those percent-encoded, control characters)."""
    if not value or len(value) > MAX_NEXT:
        return None
    for form in (value, unquote(value)):
        if not form.startswith("/") or form.startswith("//") or _NOT_IN_A_NEXT.search(form):
            return None
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else None


def home_of(member: StaffMember) -> str:
    """Where a person lands after signing in: workers on their phone page, the rest on the queue."""
    return "/worker" if member.role is StaffRole.COMMUNITY_WORKER else "/console"


def _nav(member: StaffMember) -> list[tuple[str, str]]:
    items = [("/console", "nav.queue"), ("/console/map", "nav.map")]
    items += [("/console/elders", "nav.elders"), ("/console/rosters", "nav.rosters")]
    items.append(("/console/work-orders", "nav.work_orders"))
    items.append(("/console/care-calls", "nav.care_calls"))
    items.append(("/console/shift", "nav.shift"))
    if member.role in BOARD:
        items.append(("/console/board", "nav.board"))
        items.append(("/console/maintenance", "nav.maintenance"))
    if member.role in FLOOR:
        items.append(("/console/reports", "nav.reports"))
    if member.role is StaffRole.COMMUNITY_WORKER:
        items.insert(0, ("/worker", "nav.worker"))
    if member.role is StaffRole.ADMIN:
        items.append(("/console/accounts", "nav.accounts"))
    return items


def centre_names(texts: dict[str, str], language: str) -> dict[str, str]:
    """Each centre's name as people say it, by code: codes like PH03 are the database's."""
    names = {}
    for centre in centre_facts():
        if centre.tier is CentreTier.STREET:
            names[centre.code] = texts["centre.street"]
        elif language == "zh":
            names[centre.code] = centre.name
        else:
            names[centre.code] = f"{centre.name_en} {texts['centre.community']}"
    return names


def _render(
    request: Request, template: str, member: StaffMember | None, language: str | None, **page: Any
) -> HTMLResponse:
    lang = language_of(language)
    texts = texts_for(lang)
    me = None
    if member is not None:
        me = {
            "staff_id": member.id,
            "username": member.username,
            "name": member.name,
            "role": member.role.value,
            "centre_code": member.centre_code,
        }
    # Times are shown in the street's zone, whatever the browser's machine is set to.
    centres = centre_names(texts, lang)
    boot = {
        "me": me, "lang": lang, "texts": texts, "page": page, "centres": centres,
        "tz": request.app.state.settings.timezone,
    }  # fmt: skip
    context = {
        "t": lambda key: texts.get(key, key),
        "centre_name": lambda code: centres.get(code, code),
        "lang": lang,
        "me": me,
        "nav": _nav(member) if member is not None else [],
        # A link or part for those the permission table lets act on it (the API checks again).
        "may": lambda action: member is not None and permissions.may(actor_of(member), action),
        "Action": Action,
        "path": request.url.path,
        "static": STATIC_PATH,
        # Embedded in a <script type="application/json">: '</' must not close the tag.
        "boot": json.dumps(boot, ensure_ascii=False).replace("</", "<\\/"),
        **page,
    }
    return templates.TemplateResponse(request, template, context)


async def _page(
    request: Request,
    template: str,
    language: str | None,
    roles: frozenset[StaffRole] = EVERYONE,
    **page: Any,
) -> Response:
    member = await signed_in_member(request)
    if member is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/sign-in?next={quote(target)}", status_code=303)
    if member.role not in roles:
        return RedirectResponse(home_of(member), status_code=303)
    return _render(request, template, member, language, **page)


@router.get("/")
async def home(request: Request) -> Response:
    """The console for the signed-in, the sign-in page for the rest."""
    member = await signed_in_member(request)
    return RedirectResponse(home_of(member) if member else "/sign-in", status_code=303)


@router.get("/sign-in")
async def sign_in_page(
    request: Request,
    lang: Language = None,
    after: Annotated[str | None, Query(alias="next")] = None,
) -> Response:
    """The sign-in form; `next` is where to go after it, if it is a path on this site."""
    target = safe_next(after)
    member = await signed_in_member(request)
    if member is not None:
        return RedirectResponse(target or home_of(member), status_code=303)
    return _render(request, "sign_in.html", None, lang, next=target)


@router.get("/console")
async def queue_page(request: Request, lang: Language = None) -> Response:
    """The live incident queue."""
    return await _page(request, "queue.html", lang)


@router.get("/console/incidents/{incident_id}")
async def incident_page(incident_id: Id, request: Request, lang: Language = None) -> Response:
    """The incident screen (来电弹屏)."""
    return await _page(request, "incident.html", lang, incident_id=incident_id)


@router.get("/console/incidents/{incident_id}/summary")
async def incident_summary_page(
    incident_id: Id, request: Request, lang: Language = None
) -> Response:
    """One page for the 120/110 dispatcher and the paramedics, to read out or print: who, where,
    how to get in, what happened, the hand-over (its data come from the audited API)."""
    return await _page(request, "summary.html", lang, incident_id=incident_id)


@router.get("/console/map")
async def map_page(request: Request, lang: Language = None) -> Response:
    """The street's centres and open incidents, drawn from their coordinates."""
    return await _page(request, "map.html", lang)


@router.get("/console/elders")
async def directory_page(request: Request, lang: Language = None) -> Response:
    """Search the register."""
    return await _page(request, "elders.html", lang)


@router.get("/console/elders/{elder_id}")
async def elder_page(elder_id: Id, request: Request, lang: Language = None) -> Response:
    """One elder: profile, devices, history, settings."""
    return await _page(request, "elder.html", lang, elder_id=elder_id)


@router.get("/console/reports")
async def reports_page(request: Request, lang: Language = None) -> Response:
    """Supervisors' reports."""
    return await _page(request, "reports.html", lang, FLOOR)


@router.get("/console/rosters")
async def rosters_page(request: Request, lang: Language = None) -> Response:
    """Who is on duty today and this week."""
    return await _page(request, "rosters.html", lang)


@router.get("/console/shift")
async def shift_page(request: Request, lang: Language = None) -> Response:
    """The shift hand-over: my open items, notes to the next shift, who is on now and next."""
    return await _page(request, "shift.html", lang)


@router.get("/console/board")
async def board_page(request: Request, lang: Language = None) -> Response:
    """The supervisor's wall board, for a large screen; it updates by itself."""
    return await _page(request, "board.html", lang, BOARD)


@router.get("/console/work-orders")
async def work_orders_page(request: Request, lang: Language = None) -> Response:
    """Service requests as work orders: the list by status, centre and deadline, live; one
    taken on the phone; the providers list (supervisors and admins)."""
    return await _page(request, "work_orders.html", lang, view="list")


@router.get("/console/work-orders/report")
async def work_orders_report_page(request: Request, lang: Language = None) -> Response:
    """The work-order report: requests by need and by centre, done on time, overdue."""
    return await _page(request, "work_orders.html", lang, FLOOR, view="report")


@router.get("/console/work-orders/{order_id}")
async def work_order_page(order_id: Id, request: Request, lang: Language = None) -> Response:
    """One work order: the request, its deadlines, accept, provider and appointment, close,
    and its history."""
    return await _page(request, "work_orders.html", lang, view="order", order_id=order_id)


@router.get("/console/maintenance")
async def maintenance_page(request: Request, lang: Language = None) -> Response:
    """Devices' maintenance orders for the installer, live, closed with what was done; every
    device's self-test (the street's staff, not the community workers)."""
    return await _page(request, "maintenance.html", lang, BOARD)


@router.get("/console/care-calls")
async def care_calls_page(request: Request, lang: Language = None) -> Response:
    """Proactive care calls: today's list by centre, one call made and recorded, the weather
    warnings (supervisors record them), the report."""
    return await _page(request, "care_calls.html", lang)


@router.get("/console/accounts")
async def accounts_page(request: Request, lang: Language = None) -> Response:
    """Staff accounts (admins)."""
    return await _page(request, "accounts.html", lang, frozenset({StaffRole.ADMIN}))


@router.get("/worker")
async def worker_page(request: Request, lang: Language = None) -> Response:
    """A community worker's tasks, for a phone."""
    return await _page(request, "worker.html", lang)


@api_docs_router.get("/docs")
async def api_docs(request: Request) -> HTMLResponse:
    """Swagger UI for the OpenAPI, from this project's own files (works offline)."""
    page = {
        "title": request.app.title,
        "static": STATIC_PATH,
        "openapi_url": request.app.openapi_url,
    }
    return templates.TemplateResponse(request, "api_docs.html", page)


@api_docs_router.get("/favicon.ico")
async def favicon() -> FileResponse:
    """The icon browsers ask every site for (the pages name favicon.svg; this is for the rest)."""
    return FileResponse(HERE / "static" / "favicon.ico", media_type="image/x-icon")
