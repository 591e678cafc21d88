"""Untrusted text (model outputs, prompts, answers, guidelines) as safe HTML.

Two layers, so that a mistake in one is caught by the other: markdown-it-py renders with
raw HTML disabled (any ``<script>`` in the source comes out as text), then nh3 keeps only an
allow-list of tags and attributes and only http, https and mailto links. Images become
links: remote images would tell a third party who is reading the item, and the UI's
Content-Security-Policy refuses them anyway. Table column alignment is dropped (it would
need inline styles, which the policy also refuses).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup, escape

__all__ = ["render_markdown"]

_TAGS = {
    "a", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "ul",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
}
_URL_SCHEMES = {"http", "https", "mailto"}


def _image_as_link(
    _renderer: Any, tokens: Sequence[Token], idx: int, _options: Any, _env: Any
) -> str:
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = "".join(child.content for child in token.children or [])
    label = f"[image: {alt}]" if alt else "[image]"
    return f'<a href="{escape(src)}">{escape(label)}</a>'


def _renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("image", _image_as_link)
    return md


_MD = _renderer()


def render_markdown(text: str | None) -> Markup:
    """Markdown source to sanitised HTML, safe to insert into a page."""
    if not text:
        return Markup("")
    html = _MD.render(text)
    cleaned = nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        allowed_classes={"code": {f"language-{lang}" for lang in _LANGUAGES}},
    )
    return Markup(cleaned)


# Code-fence languages whose class survives (for styling only; no highlighting script runs).
_LANGUAGES = (
    "python", "javascript", "typescript", "json", "bash", "sh", "sql", "c", "cpp", "java",
    "go", "rust", "ruby", "r", "html", "css", "yaml", "toml", "text", "latex", "math",
)  # fmt: skip
