"""The inline SVG charts are built as plain strings (no format_html per number): what
comes from outside a number is still escaped, and the shapes are the ones the page drew."""

from supervision.templatetags.supervision_charts import bar, share_bar, sparkline


def test_a_bar_is_scaled_and_escapes_its_tone():
    html = bar(3, 4, tone='x" onload="y')
    assert 'class="sv-bar x&quot; onload=&quot;y"' in html
    assert 'aria-label="3 of 4"' in html and '<rect class="sv-bar-fill" width="90.0"' in html
    assert share_bar(None) == ""
    assert 'class="sv-bar low"' in share_bar(0.5, low=0.7)


def test_a_sparkline_skips_weeks_without_data_and_escapes_the_week():
    series = [{"week": "2026-03-02", "p": 1.0}, {"week": "<b>", "p": None}, {"week": "2026-03-16", "p": 0.5}]
    html = sparkline(series, "p", maximum=1, low=0.7)
    assert '<polyline points="0.0,2.0 120.0,12.0" fill="none">' in html
    assert html.count("<circle") == 2 and "<b>" not in html
    assert '<circle cx="120.0" cy="12.0" r="2.5" class="low"><title>week of 2026-03-16: 0.50</title>' in html
    assert '<line class="sv-threshold" x1="0" x2="120" y1="8.0" y2="8.0"></line>' in html
    escaped = sparkline([{"week": "<b>", "p": 2}], "p")
    assert "week of &lt;b&gt;: 2" in escaped
    assert sparkline([{"week": "w", "p": None}], "p") == '<span class="sv-none">no data</span>'
