"""The layout's arrows, read from the source with ast: ui → agent.session → agent → tools; tools never import agent
or ui; agent never imports ui; ui takes from tools only presentation helpers and plain errors."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What the UI may take from tools: drawings, titles, wording and errors (no stores, models or training).
UI_TOOLS_ALLOWED = {"tools.advisor.flow_diagram", "tools.advisor.recommend", "tools.advisor.baseline",
                    "tools.advisor.profile",  # the questions and their labels: wording, not behaviour
                    "tools.errors", "tools.llm", "tools.settings",
                    "tools.shown_text"}  # escaping untrusted text for Markdown: presentation


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def package_imports(package: str) -> dict[str, set[str]]:
    return {str(p.relative_to(ROOT)): imports_of(p) for p in (ROOT / package).rglob("*.py")}


def test_tools_never_import_agent_or_ui():
    for path, names in package_imports("tools").items():
        bad = {n for n in names if n.split(".")[0] in ("agent", "ui")}
        assert not bad, f"{path} imports {bad}: tools are used by the agent and the UI, never the other way"


def test_agent_never_imports_ui():
    for path, names in package_imports("agent").items():
        assert not {n for n in names if n.split(".")[0] == "ui"}, f"{path} imports the UI"


def test_ui_talks_to_the_agent_only_through_the_session():
    for path, names in package_imports("ui").items():
        agent = {n for n in names if n.split(".")[0] == "agent"}
        assert agent <= {"agent.session"}, f"{path} reaches around the session: {agent - {'agent.session'}}"
        tools = {n for n in names if n.split(".")[0] == "tools"}
        extra = tools - UI_TOOLS_ALLOWED
        assert not extra, f"{path} uses tools directly ({extra}); go through the session"


def test_ui_holds_no_store_and_reaches_review_only_through_the_desk():
    """No `session.store` (or any `.store` of the session) in ui/, and no import of the review store: every
    decision goes through the Data studio's desk (session.studio), which holds the review rules."""
    for path in (ROOT / "ui").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        stores = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "store"]
        assert not stores, f"{path.relative_to(ROOT)} reaches the review store (line {stores[0]}); use session.studio"
        names = imports_of(path)
        assert not {n for n in names if n.startswith("tools.generation")}, (
            f"{path.relative_to(ROOT)} imports the review store or its helpers; use session.studio")


def test_the_workspace_names_paths_and_imports_nothing_above_it():
    """tools/workspace.py is used by every layer: it opens no store (the arrow would run back up)."""
    names = imports_of(ROOT / "tools" / "workspace.py")
    assert names <= {"__future__", "pathlib", "typing", "tools.errors", "tools.settings"}, names
