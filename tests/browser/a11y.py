"""axe-core (node_modules/axe-core, pinned by the project) run inside the page."""

from pathlib import Path

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page, selector: str | None = None) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async (selector) => {
            const context = selector ? document.querySelectorAll(selector) : document;
            const result = await axe.run(context, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21aa"]}});
            return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)}));
        }""",
        selector,
    )


def assert_accessible(page, selector: str | None = None) -> None:
    violations = axe_violations(page, selector)
    assert violations == [], violations
