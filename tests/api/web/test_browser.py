"""The portal in a real browser: headless Chromium (Debian's package) driven by Playwright, against a real uvicorn
started here. The flows employees and agents follow, what a restricted or hostile article shows, and axe-core's
WCAG 2 A/AA rules on the main pages. `pytest --screenshots` saves each main page under bench/screenshots/.

`.ci/run` installs Chromium and axe-core before the tests; on a machine without them these tests skip, saying so."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.server import UVICORN_FACTORY, running_server, server_environment
from indexer.embedders import Embedder
from kb.service import KnowledgeBase
from kb.settings import Settings
from tests.api.web.test_pages import HOSTILE, SECRET
from tests.conftest import TRUSTED, add_desk, copy_small_articles

pytestmark = [pytest.mark.real_model, pytest.mark.slow, pytest.mark.both_stores]

REPO = Path(__file__).parents[3]
CHROMIUM = os.environ.get("KB_CHROMIUM", "/usr/bin/chromium")
AXE = Path(os.environ.get("KB_AXE", REPO / ".cache" / "browser" / "node_modules" / "axe-core" / "axe.min.js"))
SCREENSHOTS = REPO / "bench" / "screenshots"
# Chromium on a closed network: no background connections, no sandbox (root in a container), no GPU.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (as .ci/run does)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


@pytest.fixture(scope="module")
def portal_server(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, new_database_url: Callable[[Path], str]
) -> Iterator[tuple[str, dict]]:
    root = tmp_path_factory.mktemp("browser")
    articles = copy_small_articles(root / "articles")
    (articles / "hostile.md").write_text(HOSTILE, encoding="utf-8")
    (articles / "payroll-secret.md").write_text(SECRET, encoding="utf-8")
    store = new_database_url(root / "data")
    settings = Settings(
        data_dir=root / "data", database_url=store, articles_dir=articles, trusted_clients=TRUSTED, auth="token"
    )
    kb = KnowledgeBase(settings, embedder=embedder)
    kb.indexing.build()
    tokens = add_desk(kb)
    kb.close()
    env = server_environment(
        settings.data_dir,
        articles,
        {"KB_AUTH": "token", "KB_RATE_LIMIT_PER_MINUTE": "0", "KB_MAINTENANCE_SECONDS": "0", "KB_DATABASE_URL": store},
    )
    with running_server(UVICORN_FACTORY, env, root / "server.log", timeout=120) as server:
        yield server.base, tokens


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Path | None:
    if not request.config.getoption("--screenshots"):
        return None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def _signed_in(browser: Any, base: str, token: str, **context: Any) -> Any:
    """A new browser context (its own cookies) signed in through the sign-in page."""
    page = browser.new_context(base_url=base, **context).new_page()
    page.goto("/")
    assert "/signin" in page.url
    page.get_by_label("Your access token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/$"))
    return page


def _shot(page: Any, folder: Path | None, name: str) -> None:
    if folder is not None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_search_article_helpful_then_no_answer_to_a_ticket_and_my_tickets(
    browser: Any, portal_server: tuple[str, dict[str, str]], screenshots: Path | None
) -> None:
    base, tokens = portal_server
    page = _signed_in(browser, base, tokens["ana"])
    _shot(page, screenshots, "search")
    page.get_by_label("Describe the problem in your own words").fill("my vpn keeps dropping on hotel wifi")
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_url(re.compile(r".*/search\?q=.*"))
    assert page.locator("ol.results mark").count() > 0
    _shot(page, screenshots, "results")
    page.locator("ol.results a.title").first.click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("VPN")
    _shot(page, screenshots, "article")
    page.get_by_role("button", name="Yes").click()
    assert "Thank you" in page.get_by_role("status").inner_text()

    page.goto("/search?q=zqxv+wpfj+qlorb")
    assert "kb has no confident answer" in page.content()
    page.get_by_role("link", name=re.compile("Open a ticket with")).click()
    assert page.get_by_label("Subject").input_value() == "zqxv wpfj qlorb"
    assert "usually answers within" in page.locator("#expected").inner_text()
    _shot(page, screenshots, "ticket-form")
    page.get_by_label("What happened, and what did you try?").fill("Nothing I searched for helped.")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r".*/tickets/\d+\?created=1"))
    assert "Expected first answer" in page.content()
    _shot(page, screenshots, "ticket")
    page.get_by_role("link", name="My tickets").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="zqxv wpfj qlorb"))
    assert row.count() == 1 and "UTC" in row.inner_text()  # with when to expect the first answer
    _shot(page, screenshots, "my-tickets")


def test_an_agent_resolves_and_drafts_another_publishes_and_the_employee_finds_it(
    browser: Any, portal_server: tuple[str, dict[str, str]], screenshots: Path | None
) -> None:
    base, tokens = portal_server
    ana = _signed_in(browser, base, tokens["ana"])
    ana.goto("/tickets/new?team=IT")
    ana.get_by_label("Subject").fill("Label printer prints blank labels")
    ana.get_by_label("What happened, and what did you try?").fill("Since the roll change, every label is blank.")
    ana.get_by_role("button", name="Send").click()
    ticket_url = ana.url.split("?")[0]
    number = ticket_url.rsplit("/", 1)[1]

    ivan = _signed_in(browser, base, tokens["ivan"])
    ivan.goto("/agent/queue")
    _shot(ivan, screenshots, "agent-queue")
    ivan.get_by_role("link", name="Label printer prints blank labels").click()
    ivan.get_by_label("Resolution: what fixed it").fill("The thermal roll was upside down: turned it over.")
    ivan.get_by_role("button", name="Resolve").click()
    _shot(ivan, screenshots, "agent-ticket")
    ivan.get_by_role("button", name="Turn into an article").click()
    ivan.wait_for_url(re.compile(r".*/agent/articles/.*/edit"))
    editor = ivan.get_by_label(re.compile("Markdown"))
    editor.fill(editor.input_value() + "\n\nThermolabelroll tip: the shiny side faces the print head.\n")
    ivan.locator("#preview", has_text="Thermolabelroll").wait_for()  # the live preview, as typed
    _shot(ivan, screenshots, "agent-editor")
    ivan.get_by_role("button", name="Send to review").click()
    ivan.wait_for_url(re.compile(r".*/agent/review"))

    ines = _signed_in(browser, base, tokens["ines"])
    ines.goto("/agent/review")
    _shot(ines, screenshots, "agent-review")
    ines.get_by_role("button", name="Publish").first.click()
    ines.wait_for_url(re.compile(r".*/articles/.*"))

    ana.goto("/search?q=thermolabelroll")
    assert ana.locator("ol.results a.title").count() >= 1
    ana.goto(f"/tickets/{number}")
    assert "The thermal roll was upside down" in ana.content()

    ivan.goto("/reports?team=IT")
    _shot(ivan, screenshots, "reports")
    assert ivan.locator("svg.heat rect").count() == 7 * 24


def test_restricted_and_hostile_articles(browser: Any, portal_server: tuple[str, dict[str, str]]) -> None:
    base, tokens = portal_server
    ana = _signed_in(browser, base, tokens["ana"])
    ana.goto("/search?q=payroll+cut-off+for+the+finance+team")
    assert "payroll-secret" not in ana.content()
    assert ana.goto("/articles/payroll-secret").status == 404
    dialogs: list[str] = []
    ana.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    ana.goto("/articles/hostile")
    ana.wait_for_load_state("load")
    assert dialogs == [] and "Reinstall the printer driver" in ana.content()
    assert ana.evaluate("document.querySelectorAll('script:not([src])').length") == 0


@pytest.mark.skipif(not AXE.exists(), reason=f"axe-core not found at {AXE}: `.ci/run` installs it with npm")
def test_the_main_pages_pass_axe_core(browser: Any, portal_server: tuple[str, dict[str, str]]) -> None:
    base, tokens = portal_server
    # axe is injected as a script the page's own CSP would refuse: the context lets the test's script in.
    ana = _signed_in(browser, base, tokens["ana"], bypass_csp=True)
    ivan = _signed_in(browser, base, tokens["ivan"], bypass_csp=True)
    found = {}
    pages = [
        (ana, "/"),
        (ana, "/search?q=vpn+drops+on+hotel+wifi"),
        (ana, "/articles/vpn-drops-on-public-wifi"),
        (ana, "/tickets/new"),
        (ana, "/tickets"),
        (ana, "/teams"),
        (ana, "/teams/IT"),
        (ivan, "/agent/queue"),
        (ivan, "/agent/review"),
        (ivan, "/reports"),
    ]
    for page, path in pages:
        page.goto(path)
        page.add_script_tag(path=str(AXE))
        result = page.evaluate(
            "async () => (await axe.run(document, {runOnly: {type: 'tag', values: "
            "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})).violations"
            ".map(v => `${v.id}: ${v.nodes.length} (${v.nodes[0].target})`)"
        )
        found[path] = result
    assert all(not violations for violations in found.values()), found


def test_a_phone_wide_page_needs_no_sideways_scrolling(browser: Any, portal_server: tuple[str, dict[str, str]]) -> None:
    base, tokens = portal_server
    page = _signed_in(browser, base, tokens["ana"], viewport={"width": 360, "height": 740})
    for path in ("/", "/search?q=printer+offline", "/articles/printer-offline-floor-printer", "/tickets/new"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
