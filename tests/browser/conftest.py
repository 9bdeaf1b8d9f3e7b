"""A real server on 127.0.0.1 and Debian's headless Chromium driven by Playwright.

The server runs in a thread with its own database (committed data, unlike the
rolled-back test transactions), built per test module by ``seed`` functions.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from crm.extensions import db
from tests.conftest import Database, make_app, skip_or_fail

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def chromium_path() -> str | None:
    candidate = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
    return candidate if Path(candidate).exists() else shutil.which("chromium")


class LiveServer:
    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.thread.join(timeout=5)

    def run(self, fn, *args, **kwargs):
        """Run ``fn`` in the app's context and commit: set up data the browser will see."""
        with self.app.app_context():
            result = fn(*args, **kwargs)
            db.session.commit()
            return result


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    database = Database("sqlite", tmp_path_factory.mktemp("live"))
    app = make_app(database, WTF_CSRF_ENABLED=True, LOGIN_RATE_LIMIT="1000 per minute")
    server = LiveServer(app)
    yield server
    server.stop()
    database.drop()


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if not path:
        skip_or_fail("Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=path, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def sign_in(page, server: LiveServer, email: str, password: str):
    page.goto(server.url + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
