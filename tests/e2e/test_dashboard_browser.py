"""The dashboard in a real browser: Debian's chromium, headless, driven by Playwright, on
`rollbot serve` started as its own process. An advance made elsewhere (a second rollbot
on the same database, as another replica or the shell would) shows on the open page
without a reload; the page fits a 390 px wide phone screen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config.settings import load_settings
from bot.container import build
from bot.domain.actor import Actor, Via
from tests.conftest import NO_GATES, PLANS_DIR
from tests.process_support import serving_checkout

CHROMIUM = Path("/usr/bin/chromium")
FLAG = "realtime-features"
ALICE = Actor("U_ALICE", Via.SHELL)

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed (apt-get install chromium; .ci/run does it)",
)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "rollbot.yaml"
    path.write_text(
        f"rollouts:\n  plans_dir: {PLANS_DIR}\n  default_plan: realtime-features\n"
        + NO_GATES
        + "dashboard:\n  refresh_seconds: 1\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def served(tmp_path: Path, config: Path) -> Iterator[str]:
    """`rollbot serve` on an ephemeral port of 127.0.0.1; yields its base URL."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/rollbot.db", "ROLLBOT_CONFIG": str(config)}
    with serving_checkout(tmp_path, env) as server:
        yield server.url


def test_the_page_follows_an_advance_without_a_reload_and_fits_a_phone(
    served: str, tmp_path: Path, config: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    settings = load_settings(
        env={"DATABASE_URL": f"sqlite:///{tmp_path}/rollbot.db"}, config_path=config
    )
    other = build(settings)  # another process's view of the same database
    try:
        other.rollouts.start(FLAG, None, ALICE)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            try:
                page = browser.new_page(viewport={"width": 390, "height": 844})
                page.goto(served + "/")
                percentage = page.locator(f'strong.pct[data-flag="{FLAG}"]')
                expect(percentage).to_have_text("0%")
                page.evaluate("window.sameDocument = true")

                # The shipped plan's staff step (0% for everyone), then 5% of everyone
                other.rollouts.advance(FLAG, ALICE)
                last = page.locator(".history li").last
                expect(last).to_contain_text("advanced", timeout=15_000)
                expect(percentage).to_have_text("0%")
                other.rollouts.advance(FLAG, ALICE, expected_step=1)

                expect(percentage).to_have_text("5%", timeout=15_000)
                assert page.evaluate("window.sameDocument") is True  # not reloaded
                expect(page.locator(".history li")).to_have_count(3)
                expect(page.locator(".history li").last).to_contain_text("advanced")
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 390, f"the page is {width} px wide on a 390 px screen"
                shot = tmp_path / "dashboard-390px.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
            finally:
                browser.close()
    finally:
        other.db.dispose()
