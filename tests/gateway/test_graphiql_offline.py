"""GraphiQL must work with no internet: the page and its assets come from the gateway alone."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from urllib.parse import urlparse

import httpx
import pytest


class _AssetRefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.refs.append(value)


def test_graphiql_page_references_only_its_own_host(stack) -> None:
    page = httpx.get(stack.graphql_url, headers={"Accept": "text/html"})
    assert page.status_code == 200
    parser = _AssetRefs()
    parser.feed(page.text)

    assert parser.refs, "the page loads its assets"
    assert all(not urlparse(ref).netloc for ref in parser.refs), parser.refs
    for ref in parser.refs:
        asset = httpx.get(f"{stack.gateway_url}{ref}")
        assert asset.status_code == 200, ref
        if ref.endswith(".css"):
            external = re.findall(r"url\((?!data:)['\"]?(https?:[^)'\"]+)", asset.text)
            assert external == [], external


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)")
def test_graphiql_runs_a_query_in_a_browser_with_the_network_off(stack) -> None:
    from playwright.sync_api import sync_playwright

    off_host: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                # Network off: every host but loopback goes to a proxy that is not there.
                "--proxy-server=http://127.0.0.1:9",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page()
            page.on(
                "request",
                lambda req: off_host.append(req.url)
                if urlparse(req.url).hostname not in ("127.0.0.1", "localhost")
                and not req.url.startswith("data:")
                else None,
            )
            page.goto(stack.graphql_url, wait_until="load")
            page.wait_for_selector(".graphiql-execute-button", timeout=30_000)
            page.click(".graphiql-execute-button")
            page.wait_for_function(
                "() => document.querySelector('.result-window')?.innerText.includes('sourceRecords')",
                timeout=30_000,
            )
            result = page.inner_text(".result-window")
            page.screenshot(path=str(stack.settings.data_dir / "graphiql.png"))
        finally:
            browser.close()

    assert '"customers"' in result and ("QUICKBOOKS" in result or "SHAREPOINT" in result)
    assert off_host == []
