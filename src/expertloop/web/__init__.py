"""The experts' web UI: server-rendered pages, a little JavaScript, one template per task type."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from expertloop.services.runtime import Runtime
from expertloop.web import flags, my_work
from expertloop.web.console_people import install_console_people
from expertloop.web.console_projects import install_console_projects
from expertloop.web.errors import install_html_errors
from expertloop.web.markdown import render_markdown
from expertloop.web.rendering import STATIC_DIR, TEMPLATES_DIR, task_template_name
from expertloop.web.routes import router
from expertloop.web.sessions import browser_session_user

__all__ = [
    "STATIC_DIR",
    "TEMPLATES_DIR",
    "install_console_people",
    "install_console_projects",
    "install_web_ui",
    "render_markdown",
    "router",
    "task_template_name",
]


def install_web_ui(app: FastAPI, _runtime: Runtime) -> None:
    """Mount the UI's pages and its static files (CSS, JavaScript) on ``app``, and let the
    REST API accept the browser session (with its CSRF token) that the pages' scripts use."""
    app.state.extra_credentials = (*app.state.extra_credentials, browser_session_user)
    app.include_router(router)
    app.include_router(my_work.router)
    app.include_router(flags.router)
    install_html_errors(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
