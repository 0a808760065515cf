"""Charts drawn on the server as inline SVG (no scripts, no CDN): bars and sparklines
that read at a glance, with the exact number next to them."""

from __future__ import annotations

from html import escape

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
    """A horizontal bar scaled to `maximum`. Built as one string (what format_html would
    give): the dashboard draws a few hundred charts and escaping each number cost more than
    drawing it."""
    value = float(value or 0)
    maximum = float(maximum or 0)
    filled = 0 if maximum <= 0 else max(0.0, min(1.0, value / maximum)) * width
    return mark_safe(  # noqa: S308 (numbers the template gives, and `tone` escaped)
        f'<svg class="sv-bar {escape(str(tone))}" width="{width}" height="12" role="img" '
        f'aria-label="{_num(value)} of {_num(maximum)}">'
        f'<rect class="sv-bar-bg" width="{width}" height="12" rx="2"></rect>'
        f'<rect class="sv-bar-fill" width="{filled:.1f}" height="12" rx="2"></rect></svg>'
    )


@register.simple_tag
def share_bar(share, *, width: int = 120, low: float | None = None) -> str:
    """A 0–1 share as a bar; red when below `low`."""
    tone = "low" if share is not None and low is not None and float(share) < float(low) else ""
    if share is None:
        return ""
    return bar(float(share), 1, width=width, tone=tone)


@register.simple_tag
def sparkline(series, key: str, *, width: int = 120, height: int = 24, maximum=None, low=None) -> str:
    """Weekly values as a polyline over a faint band, a dot per week with data (weeks
    without data are skipped) and a dashed line at the `low` threshold."""
    values = [row.get(key) for row in series]
    present = [float(v) for v in values if v is not None]
    if not present:
        return mark_safe('<span class="sv-none">no data</span>')
    top = float(maximum) if maximum is not None else max(present) or 1.0
    step = width / max(len(values) - 1, 1)

    def y_of(v) -> float:
        return round(height - 2 - (float(v) / top) * (height - 4), 1) if top else height - 2

    points = [
        (round(i * step, 1), y_of(v), v, series[i].get("week", "")) for i, v in enumerate(values) if v is not None
    ]
    line = " ".join(f"{x},{y}" for x, y, _, _ in points)
    dots = "".join(
        f'<circle cx="{x}" cy="{y}" r="2.5" class="{"low" if low is not None and float(v) < float(low) else ""}">'
        f"<title>week of {escape(str(week))}: {_num(v)}</title></circle>"
        for x, y, v, week in points
    )
    threshold = (
        f'<line class="sv-threshold" x1="0" x2="{width}" y1="{y_of(low)}" y2="{y_of(low)}"></line>'
        if low is not None
        else ""
    )
    return mark_safe(  # noqa: S308 (numbers, and each week escaped)
        f'<svg class="sv-spark" width="{width}" height="{height}" role="img" aria-label="weekly trend">'
        f'<rect class="sv-band" width="{width}" height="{height}" rx="2"></rect>{threshold}'
        f'<polyline points="{line}" fill="none"></polyline>{dots}</svg>'
    )


@register.simple_tag
def week_bars(series, key: str, *, count_key: str = "", width: int = 480, height: int = 90, maximum=1, low=None):
    """One column per week (height = value), red below `low`, a grey stub for weeks
    without data; the first and last week are labelled."""
    n = max(len(series), 1)
    slot = width / n
    chart_h = height - 16
    bars = []
    for i, row in enumerate(series):
        value = row.get(key)
        x = round(i * slot + 2, 1)
        w = round(slot - 4, 1)
        label = f"week of {row.get('week', '')}: " + (
            "no data" if value is None else f"{_num(float(value) * 100)}%" if maximum == 1 else _num(value)
        )
        if count_key:
            label += f" ({row.get(count_key, 0)} marks)"
        if value is None:
            bars.append((x, chart_h - 2, w, 2, "none", label))
            continue
        h = max(2.0, round(float(value) / float(maximum) * chart_h, 1)) if maximum else 2.0
        tone = "low" if low is not None and float(value) < float(low) else ""
        bars.append((x, round(chart_h - h, 1), w, h, tone, label))
    rects = format_html_join("", '<rect x="{}" y="{}" width="{}" height="{}" class="{}"><title>{}</title></rect>', bars)
    first = series[0].get("week", "") if series else ""
    last = series[-1].get("week", "") if series else ""
    return format_html(
        '<svg class="sv-weeks" width="{}" height="{}" role="img" aria-label="weekly {}">{}'
        '<text x="0" y="{}">{}</text><text x="{}" y="{}" text-anchor="end">{}</text></svg>',
        width,
        height,
        key,
        rects,
        height - 2,
        first,
        width,
        height - 2,
        last,
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
