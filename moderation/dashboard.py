"""The admin home is assembled from panels that apps register (queues, appeals,
supervision), so moderation/ never imports the apps built on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest


@dataclass(frozen=True)
class Panel:
    key: str
    template: str
    context: Callable[[HttpRequest], dict | None]
    position: int = 100


dashboard_panels: dict[str, Panel] = {}


def register_panel(panel: Panel) -> None:
    dashboard_panels[panel.key] = panel


def collect_panels(request: HttpRequest) -> list[dict]:
    """Panels whose context function returns None are hidden from that user."""
    rendered = []
    for panel in sorted(dashboard_panels.values(), key=lambda p: p.position):
        context = panel.context(request)
        if context is not None:
            rendered.append({"key": panel.key, "template": panel.template, **context})
    return rendered
