"""WCAG AA contrast of the UI's colours, computed from the CSS variables in app.css: muted
text at least 4.5:1 and the focus ring at least 3:1 against every background they sit on."""

from __future__ import annotations

import re

import pytest

from expertloop.web.rendering import STATIC_DIR


def _variables() -> dict[str, str]:
    css = (STATIC_DIR / "app.css").read_text()
    root = re.search(r":root\s*\{(.*?)\}", css, re.S)
    assert root is not None
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})\s*;", root.group(1)))


def _luminance(colour: str) -> float:
    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """The WCAG 2 contrast ratio of two sRGB colours."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_contrast_formula_gives_the_known_extremes() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


BACKGROUNDS = ("surface", "bg", "surface-2", "accent-soft", "warn-soft")


@pytest.mark.parametrize("background", BACKGROUNDS)
def test_muted_text_meets_4_5_to_1(background: str) -> None:
    colours = _variables()
    assert contrast(colours["muted"], colours[background]) >= 4.5


@pytest.mark.parametrize("background", BACKGROUNDS)
def test_the_focus_ring_meets_3_to_1(background: str) -> None:
    colours = _variables()
    assert contrast(colours["focus"], colours[background]) >= 3.0


def test_every_focus_style_uses_the_focus_colour() -> None:
    css = (STATIC_DIR / "app.css").read_text()
    for rule in re.findall(r"([^{}]*:focus[^{}]*)\{([^}]*)\}", css):
        selector, body = rule
        if "outline: none" in body and "box-shadow" not in body and "border" not in body:
            continue  # a focus target that shows its own ring elsewhere (a question)
        if "accent-ring" in body:
            raise AssertionError(f"{selector.strip()} draws focus with the faint --accent-ring")
