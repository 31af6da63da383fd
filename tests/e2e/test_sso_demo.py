"""examples/sso-demo against the local server: sign in once for both systems, sign out of both."""

from __future__ import annotations

import importlib.util
import sys
import time
from types import ModuleType

from localdev.template import ROOT
from tests.e2e.center_client import Browser
from tests.e2e.conftest import ADMIN, CENTER_PASSWORD


def demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sso_demo", ROOT / "examples" / "sso-demo" / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["sso_demo"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_sign_in_once_for_both_systems_and_out_of_both(base_url, person) -> None:
    sso = demo()
    running = sso.serve(base_url, ports=(0, 0))
    try:
        (shop, _), (blog, _) = running
        sso.register(base_url, [shop, blog], *ADMIN)
        sso.register(base_url, [shop, blog], *ADMIN)  # registering again updates, as a second run does
        browser = Browser(base_url)
        assert "Not signed in" in browser.get(shop.origin + "/").text

        # Shop: to the center's page, sign in, back to Shop signed in
        to_center = browser.get(shop.origin + "/login")
        page = browser.get(to_center.headers["Location"])
        assert "Shop" in page.text
        callback = browser.submit(page, username=person, password=CENTER_PASSWORD)
        landing = browser.get(callback.headers["Location"])  # Shop's callback: code exchanged, ID token checked
        assert landing.status_code == 302 and landing.headers["Location"] == "/"
        assert person in browser.get(shop.origin + "/").text

        # Blog: the center answers at once (single sign-on), no page
        to_center = browser.get(blog.origin + "/login")
        callback = browser.get(to_center.headers["Location"])
        assert callback.status_code == 302 and callback.headers["Location"].startswith(blog.origin + "/callback")
        assert browser.get(callback.headers["Location"]).status_code == 302
        assert person in browser.get(blog.origin + "/").text

        # Sign out at Shop: the center ends its session, Blog hears it on its back channel
        to_center = browser.get(shop.origin + "/logout")
        back = browser.get(to_center.headers["Location"])
        assert back.status_code == 302 and back.headers["Location"] == shop.origin + "/"
        deadline = time.monotonic() + 20
        while "Not signed in" not in browser.get(blog.origin + "/").text and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "Not signed in" in browser.get(blog.origin + "/").text
        assert "Not signed in" in browser.get(shop.origin + "/").text
    finally:
        for _, server in running:
            server.shutdown()
