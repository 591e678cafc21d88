"""Templates, static-file URLs and the security headers of every UI page."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from expertloop.tasks import get_task_type
from expertloop.web.markdown import render_markdown

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "STATIC_DIR",
    "TEMPLATES_DIR",
    "plural",
    "render_page",
    "render_string",
    "security_headers",
    "sentence_start",
    "static_url",
    "task_template_name",
]

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

# No inline script or style anywhere: JavaScript and CSS come from /static only, so text
# that slipped through sanitising still could not run.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)


def security_headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


@cache
def _static_version(name: str) -> str:
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """The URL of a static file, versioned by its content so browsers never run stale JS."""
    return f"/static/{name}?v={_static_version(name)}"


def task_template_name(task_type: str) -> str:
    return f"tasks/{task_type}.html"


def sentence_start(text: str) -> str:
    """The text with its first letter in upper case and the rest as written: Jinja's
    ``capitalize`` lowers the rest, turning "HbA1c" into "Hba1c" and "NICE NG28" into
    "Nice ng28"."""
    return text[:1].upper() + text[1:]


def plural(count: int, singular: str, many: str | None = None) -> str:
    """``1 item``, ``2 items``, ``0 items`` (``many`` for irregular plurals)."""
    return f"{count} {singular if count == 1 else (many or singular + 's')}"


def _build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["markdown"] = render_markdown
    env.filters["sentence_start"] = sentence_start
    env.filters["plural"] = plural
    env.filters["pretty_json"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)
    env.globals["static_url"] = static_url
    env.tests["conversational"] = _conversational
    return env


def _conversational(task_type: str) -> bool:
    """Whether a project's task type holds a live conversation (its console has a
    red-team campaign page)."""
    return bool(get_task_type(task_type).conversational)


ENVIRONMENT = _build_environment()


def render_string(name: str, context: dict[str, Any]) -> str:
    return ENVIRONMENT.get_template(name).render(**context)


def render_page(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    html = render_string(name, {"request": request, **context})
    return HTMLResponse(html, status_code=status_code, headers=security_headers())
