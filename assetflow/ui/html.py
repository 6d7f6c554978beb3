"""The page shell and small HTML helpers shared by every page. Everything is escaped here or by the
caller with `esc`; no page takes markup from the project or the store unescaped."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from html import escape
from urllib.parse import quote

NAV = (("/", "Assets"), ("/runs", "Runs"), ("/schedules", "Schedules"))


@dataclass(frozen=True, slots=True)
class Page:
    status: int
    body: str                        # the HTML document
    content_type: str = "text/html; charset=utf-8"


def esc(value) -> str:
    return escape("" if value is None else str(value), quote=True)


def url(*parts: str) -> str:
    return "/" + "/".join(quote(p, safe="") for p in parts)


def when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S}"


def data_json(value) -> str:
    """JSON for a <script type="application/json"> block: `</` cannot close the element."""
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


def badge(status: str) -> str:
    return f'<span class="badge s-{esc(status)}">{esc(status)}</span>'


def layout(title: str, body: str, token: str, project: str, active: str = "/", scripts: tuple[str, ...] = (),
           banner: str | None = None) -> str:
    nav = "".join(f'<a href="{href}"{" class=active" if href == active else ""}>{esc(label)}</a>'
                  for href, label in NAV)
    tags = "".join(f'<script src="/static/{esc(s)}" defer></script>' for s in ("app.js", *scripts))
    note = f'<div class="banner" role="status">{esc(banner)}</div>' if banner else ""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="assetflow-token" content="{esc(token)}">'
            f'<title>{esc(title)} · assetflow</title><link rel="stylesheet" href="/static/app.css">{tags}</head>'
            f'<body><header><a class="brand" href="/">assetflow</a><span class="project">{esc(project)}</span>'
            f'<nav>{nav}</nav></header>{note}<main>{body}</main></body></html>')


def not_found(what: str, token: str, project: str) -> Page:
    body = (f'<h1>Not found</h1><p class="notfound">{esc(what)}</p>'
            f'<p><a href="/">Back to the assets</a> · <a href="/runs">All runs</a></p>')
    return Page(404, layout("Not found", body, token, project))


def table(headers: tuple[str, ...], rows: list[str], cls: str = "") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
