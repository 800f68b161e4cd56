"""The builtin public status page: GET /status (HTML), /status.json and /status.atom.

Public and read-only: no authentication, nothing but what was published. Database reads
run in the thread pool so they never block the event loop.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from bot.container import Rollbot
from bot.services.status_page import FeedEntry, PageView, StatusPageIncidentView

ATOM = "http://www.w3.org/2005/Atom"
FEED_LENGTH = 50
LABELS = {
    "investigating": "Investigating",
    "identified": "Identified",
    "monitoring": "Monitoring",
    "resolved": "Resolved",
    "operational": "Operational",
    "degraded_performance": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
}


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z") if at is not None else None


def _human(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%b %d, %Y %H:%M UTC") if at is not None else ""


def _incident_json(incident: StatusPageIncidentView, base: str) -> dict[str, Any]:
    return {
        "key": incident.key,
        "title": incident.title,
        "status": incident.status,
        "impact": incident.impact,
        "components": incident.components,
        "started_at": _iso(incident.started_at),
        "updated_at": _iso(incident.updated_at),
        "resolved_at": _iso(incident.resolved_at),
        "url": f"{base}/status#{incident.key}",
        "updates": [
            {
                "id": u.id,
                "status": u.status,
                "impact": u.impact,
                "message": u.message,
                "components": u.components,
                "at": _iso(u.at),
            }
            for u in incident.updates
        ],
    }


def page_json(page: PageView, base: str) -> dict[str, Any]:
    """The page as JSON (shaped like Statuspage's summary.json where it can be)."""
    return {
        "page": {"title": page.title, "url": f"{base}/status", "updated_at": _iso(page.updated_at)},
        "status": {"indicator": page.indicator, "description": page.description},
        "components": [{"name": c.name, "status": c.status} for c in page.components],
        "incidents": [_incident_json(i, base) for i in page.active],
        "resolved": [_incident_json(i, base) for i in page.resolved],
    }


def atom_feed(title: str, entries: list[FeedEntry], base: str, now: datetime) -> bytes:
    """An Atom (RFC 4287) feed with one entry per published update, newest first."""
    ET.register_namespace("", ATOM)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            element.text = text
        return element

    feed = ET.Element(f"{{{ATOM}}}feed")
    sub(feed, "id", f"{base}/status")
    sub(feed, "title", title)
    updated = entries[0].update.at if entries else now
    sub(feed, "updated", _iso(updated))
    sub(feed, "link", rel="self", type="application/atom+xml", href=f"{base}/status.atom")
    sub(feed, "link", rel="alternate", type="text/html", href=f"{base}/status")
    author = sub(feed, "author")
    sub(author, "name", title)
    for entry in entries:
        update = entry.update
        anchor = f"{entry.incident_key}-{update.id}"
        item = sub(feed, "entry")
        # Unique and permanent per update: the update's anchor on the page.
        sub(item, "id", f"{base}/status#{anchor}")
        sub(item, "title", f"{entry.title}: {LABELS.get(update.status, update.status)}")
        sub(item, "updated", _iso(update.at))
        sub(item, "published", _iso(update.at))
        sub(item, "link", rel="alternate", type="text/html", href=f"{base}/status#{anchor}")
        sub(item, "category", term=update.status)
        sub(item, "content", update.message, type="text")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body


def status_routes(rollbot: Rollbot) -> list[Route]:
    """Routes of the public status page, bound to a running rollbot."""
    page = rollbot.public_status
    templates = Environment(
        loader=FileSystemLoader(rollbot.templates_dir),
        autoescape=select_autoescape(["html", "j2"]),
    )

    def base_url(request: Request) -> str:
        if page is not None and page.public_url:
            return page.public_url
        return str(request.base_url).rstrip("/")

    def disabled() -> JSONResponse:
        return JSONResponse(
            {
                "error": "the builtin status page is not enabled",
                "hint": "add `- type: builtin` to statuspage.providers in the config",
            },
            404,
        )

    async def status_html(request: Request) -> Response:
        if page is None:
            return disabled()
        view = await run_in_threadpool(page.page)
        html = templates.get_template("status_page.html.j2").render(
            page=view, labels=LABELS, fmt=_human, base=base_url(request)
        )
        return HTMLResponse(html)

    async def status_json(request: Request) -> Response:
        if page is None:
            return disabled()
        view = await run_in_threadpool(page.page)
        return JSONResponse(page_json(view, base_url(request)))

    async def status_atom(request: Request) -> Response:
        if page is None:
            return disabled()
        entries = await run_in_threadpool(page.feed, FEED_LENGTH)
        body = atom_feed(page.title, entries, base_url(request), rollbot.clock.now())
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    return [
        Route("/status", status_html, methods=["GET"]),
        Route("/status.json", status_json, methods=["GET"]),
        Route("/status.atom", status_atom, methods=["GET"]),
    ]
