"""Charts drawn on the server as inline SVG (no scripts, no CDN): bars and sparklines
that read at a glance, with the exact number next to them."""

from __future__ import annotations

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def percent(value, digits: int = 0) -> str:
    """0.8125 → '81%'; None → '—' (nothing to measure)."""
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def hours(seconds) -> str:
    """Seconds as hours with one decimal; None → '—'."""
    if seconds is None or seconds == "":
        return "—"
    return f"{float(seconds) / 3600:.1f} h"


@register.simple_tag
def bar(value, maximum, *, width: int = 120, tone: str = "") -> str:
    """A horizontal bar scaled to `maximum`."""
    value = float(value or 0)
    maximum = float(maximum or 0)
    filled = 0 if maximum <= 0 else max(0.0, min(1.0, value / maximum)) * width
    return format_html(
        '<svg class="sv-bar {}" width="{}" height="12" role="img" aria-label="{} of {}">'
        '<rect class="sv-bar-bg" width="{}" height="12" rx="2"></rect>'
        '<rect class="sv-bar-fill" width="{}" height="12" rx="2"></rect></svg>',
        tone,
        width,
        _num(value),
        _num(maximum),
        width,
        f"{filled:.1f}",
    )


@register.simple_tag
def share_bar(share, *, width: int = 120, low: float | None = None) -> str:
    """A 0–1 share as a bar; red when below `low`."""
    tone = "low" if share is not None and low is not None and float(share) < float(low) else ""
    if share is None:
        return mark_safe('<span class="sv-none">—</span>')
    return bar(float(share), 1, width=width, tone=tone)


@register.simple_tag
def sparkline(series, key: str, *, width: int = 120, height: int = 24, maximum=None, low=None) -> str:
    """Weekly values as a polyline with a dot per week that has data; gaps are skipped."""
    values = [row.get(key) for row in series]
    present = [float(v) for v in values if v is not None]
    if not present:
        return mark_safe('<span class="sv-none">no data</span>')
    top = float(maximum) if maximum is not None else max(present) or 1.0
    step = width / max(len(values) - 1, 1)
    points = []
    for i, v in enumerate(values):
        if v is None:
            continue
        y = height - 2 - (float(v) / top) * (height - 4) if top else height - 2
        points.append((round(i * step, 1), round(y, 1), v, series[i].get("week", "")))
    line = " ".join(f"{x},{y}" for x, y, _, _ in points)
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="2" class="{}"><title>{}: {}</title></circle>',
        ((x, y, "low" if low is not None and float(v) < float(low) else "", week, _num(v)) for x, y, v, week in points),
    )
    return format_html(
        '<svg class="sv-spark" width="{}" height="{}" role="img" aria-label="weekly trend">'
        '<polyline points="{}" fill="none"></polyline>{}</svg>',
        width,
        height,
        line,
        dots,
    )


def _num(value) -> str:
    value = float(value)
    return f"{value:.0f}" if value.is_integer() else f"{value:.2f}"


@register.filter
def admin_url(obj) -> str:
    """The admin change page of `obj`, or '' when its model has none."""
    from django.contrib import admin
    from django.urls import NoReverseMatch, reverse

    if obj is None or not admin.site.is_registered(type(obj)):
        return ""
    try:
        return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return ""
