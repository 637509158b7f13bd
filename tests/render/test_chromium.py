"""The comment and report.html as a browser draws them (issue #14): headless Chromium measures the chart.

The comment's Markdown becomes HTML the way GitHub renders a fenced block (markdown-it,
`<pre><code>`, GitHub's monospace font stack), and Chromium reports where each character of
the text chart lands: the regressed segment's bar must lie left of the zero axis and the
improvements right of it, with the axis in one column on every row. report.html's SVG is
measured the same way. Screenshots go to test-artifacts/screenshots/ (docs/img keeps copies).
Skipped only when Chromium or Playwright is missing.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from bot import render
from bot.gate import decide
from bot.render import plots
from tests.render.cases import CASES

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
GITHUB_CSS = """
body{font:14px/1.5 -apple-system,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif;color:#1f2328;max-width:880px;
     margin:16px auto;padding:0 16px}
pre{background:#f6f8fa;border-radius:6px;padding:16px;overflow:auto;line-height:1.45}
code,pre{font-family:ui-monospace,SFMono-Regular,"SF Mono",Menlo,Consolas,"Liberation Mono",monospace;font-size:85%}
table{border-collapse:collapse;display:block;width:max-content;max-width:100%;overflow:auto}
th,td{border:1px solid #d0d7de;padding:6px 13px}
"""

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def page() -> Any:
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        pg = browser.new_page(viewport={"width": 900, "height": 900})
        yield pg
        browser.close()


def _comment_html(case: str) -> str:
    build, config = CASES[case]
    report = build()
    md = render.render_comment(report, decide(report, config))
    body = MarkdownIt("commonmark", {"html": True}).enable("table").render(md)
    return f"<!doctype html><meta charset=utf-8><style>{GITHUB_CSS}</style><body class=markdown-body>{body}</body>"


# per chart: whether its metric is lower-is-better (from the caption above it), and the x extent
# of every character of each line of its <pre>, as laid out by Chromium
MEASURE = """() => [...document.querySelectorAll('pre code')].filter(c => c.textContent.includes('│')).map(code => {
  const caption = code.parentElement.previousElementSibling.textContent;
  const text = code.firstChild, s = text.textContent, rows = [];
  let start = 0;
  for (const line of s.split('\\n')) {
    const xs = [];
    for (let i = 0; i < line.length; i++) {
      const r = document.createRange(); r.setStart(text, start + i); r.setEnd(text, start + i + 1);
      const b = r.getBoundingClientRect(); xs.push([b.left, b.right]);
    }
    rows.push({line, xs}); start += line.length + 1;
  }
  return {lower_is_better: caption.includes('lower is better'), rows};
})"""


def _extent(row: dict[str, Any], chars: str) -> tuple[float, float]:
    xs = [row["xs"][i] for i, c in enumerate(row["line"]) if c in chars]
    assert xs, row["line"]
    return min(x[0] for x in xs), max(x[1] for x in xs)


@pytest.mark.parametrize(("case", "charts", "regressions"), [("failing", 1, 1), ("multi", 2, 0)])
def test_comment_chart_draws_regressions_left_of_zero(page: Any, case: str, charts: int, regressions: int) -> None:
    page.set_content(_comment_html(case))
    measured = page.evaluate(MEASURE)
    assert len(measured) == charts
    found = 0
    for chart in measured:
        rows = [r for r in chart["rows"] if "│" in r["line"]][1:]  # the bars, not the header
        axes = {round(_extent(r, "│")[0], 1) for r in rows}
        assert len(axes) == 1, f"the zero axis is not one column: {axes}"
        zero = axes.pop()
        for r in rows:
            delta = r["line"].rsplit("│", 1)[1].split()[0]
            worse = delta.startswith("+") if chart["lower_is_better"] else delta.startswith("-")
            if delta.startswith("±"):
                assert not any(c in r["line"] for c in "█▐▌"), r["line"]  # no change, no bar
                continue
            left, right = _extent(r, "█▐▌")
            if worse:
                assert right <= zero + 0.5, r["line"]  # from zero to the left
            else:
                assert left >= zero - 0.5, r["line"]  # from zero to the right
            if r["line"].endswith("❌ regressed"):
                found += 1
                assert worse and zero - left > 80, r["line"]  # visibly long (the full half width), pointing left
    assert found == regressions
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("pre").filter(has_text="│").first.screenshot(path=str(SHOTS / f"comment-chart-{case}.png"))
    page.screenshot(path=str(SHOTS / f"comment-{case}.png"), full_page=True)
    bottom = page.evaluate("() => [...document.querySelectorAll('pre')].find(p => p.textContent.includes('│'))"
                           ".getBoundingClientRect().bottom + window.scrollY")
    page.screenshot(path=str(SHOTS / f"comment-top-{case}.png"), full_page=True,
                    clip={"x": 0, "y": 0, "width": 900, "height": bottom + 16})


def test_report_html_chart_bars_start_at_zero(page: Any) -> None:
    build, config = CASES["failing"]
    report = build()
    page.set_content(render.render_html(report, decide(report, config)))
    bars = page.evaluate("""() => [...document.querySelectorAll('svg.chart g')].map(g => {
        const r = g.querySelector('rect').getBoundingClientRect();
        return {cls: g.getAttribute('class'), left: r.left, right: r.right, label: g.querySelector('title').textContent};
    })""")
    zero = page.evaluate("() => document.querySelector('svg.chart line.zero').getBoundingClientRect().left")
    assert bars
    for b in bars:
        if b["cls"] in ("regressed", "worse"):
            assert abs(b["right"] - zero) < 1.5, b
        else:
            assert abs(b["left"] - zero) < 1.5, b
    regressed = [b for b in bars if b["cls"] == "regressed"]
    assert [html.unescape(b["label"]).split(":")[0] for b in regressed] == ["region=APAC"]
    assert zero - regressed[0]["left"] > max(b["right"] - b["left"] for b in bars if b["cls"] == "better")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "report-failing.png"), full_page=True)
    page.locator("svg.chart").screenshot(path=str(SHOTS / "report-chart.png"))


def test_report_html_plots_are_drawn(page: Any) -> None:
    """With curves in the report and matplotlib installed, each plot is an SVG the browser lays out."""
    pytest.importorskip("matplotlib")
    from tests.render.test_plots import _binary, _with_curves

    y, cand, base = _binary()
    report, decision = _with_curves("failing", plots.curve_data("binary", y, cand, base, None))
    page.set_content(render.render_html(report, decision))
    sizes = page.evaluate("() => [...document.querySelectorAll('.plots svg')].map(s => s.getBoundingClientRect().width)")
    assert len(sizes) == 5 and all(w > 200 for w in sizes)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".plots").screenshot(path=str(SHOTS / "report-plots.png"))
