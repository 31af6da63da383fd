"""The sign-in center over HTTP against the local server (issue 11): discovery, the code flow with PKCE,
the hosted sign-in page, single sign-on, prompt=none, refresh, userinfo, revocation, RP-initiated and
back-channel logout, and the refusals an attacker would try."""

from __future__ import annotations

import jwt
import pytest
import requests

from tests.e2e.center_client import Browser, Client, LogoutReceiver, query_of
from tests.e2e.conftest import CENTER_PASSWORD as PASSWORD


@pytest.fixture
def make_client(api, unique, admin_token, base_url):
    def make(**settings) -> Client:
        name = unique("rp")
        callback = f"http://127.0.0.1:9/{name}/cb"
        body = {
            "app_name": name,
            "display_name": f"Shop {name}",
            "redirect_uris": [callback],
            "post_logout_redirect_uris": [f"http://127.0.0.1:9/{name}/bye"],
            **settings,
        }
        created = api("POST", "/api/apps/create", token=admin_token, json=body)
        assert created.status_code == 201, created.text
        return Client(base_url, name, callback, created.json()["data"].get("client_secret"))

    return make


def sign_in(browser: Browser, client: Client, username: str, password: str = PASSWORD, **params: str | None):
    """Open the client's authorization URL and sign in on the page: the redirect back to the client."""
    page = browser.get(client.authorize_url(**params))
    assert page.status_code == 200 and 'name="password"' in page.text
    return browser.submit(page, username=username, password=password)


def at_account(response: requests.Response) -> bool:
    """Signed in at the center's own page: sent to the account page (or, past the passkey prompt, on it)."""
    if response.status_code == 302:
        return str(response.headers["Location"]).endswith("/account")
    return response.status_code == 200 and 'id="passkey-list"' in response.text


def test_discovery_names_every_endpoint_and_only_s256(base_url) -> None:
    config = requests.get(f"{base_url}/.well-known/openid-configuration", timeout=10).json()
    assert config["issuer"] == base_url
    assert config["authorization_endpoint"] == f"{base_url}/oauth2/authorize"
    assert config["jwks_uri"] == f"{base_url}/.well-known/jwks.json"
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["response_types_supported"] == ["code"]
    assert config["authorization_response_iss_parameter_supported"] is True
    assert requests.get(config["jwks_uri"], timeout=10).json()["keys"]


def test_code_flow_gives_tokens_the_authorizer_accepts_an_id_token_and_userinfo(
    base_url, make_client, person, api
) -> None:
    client, browser = make_client(), Browser(base_url)
    page = browser.get(client.authorize_url())
    policy = page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Cache-Control"] == "no-store"
    assert "__Host-uc_center" not in browser.cookies
    back = browser.submit(page, username=person, password=PASSWORD)
    assert back.status_code == 302 and back.headers["Location"].startswith(client.redirect_uri + "?")
    answer = query_of(back.headers["Location"])
    assert answer["state"] == client.last["state"] and answer["iss"] == base_url
    assert "access_token" not in back.headers["Location"]
    assert "__Host-uc_center" in browser.cookies
    assert browser.prompts_skipped == 1  # "add a passkey?" after this browser's first sign-in: "Not now"
    cookie = next(c for c in browser.set_cookie_headers if c.startswith("__Host-uc_center="))
    assert all(flag in cookie for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/")) and "Domain" not in cookie

    tokens = client.token(answer["code"])
    assert tokens.status_code == 200, tokens.text
    data = tokens.json()
    assert tokens.headers["Cache-Control"] == "no-store"
    claims = client.id_claims(data["id_token"])
    assert claims["nonce"] == client.last["nonce"] and claims["amr"] == ["pwd"]
    assert claims["sid"] and claims["auth_time"] <= claims["iat"] and claims["preferred_username"] == person
    assert "email" in claims  # the email scope
    # The access token is the API's own: the authorizer accepts it for the client's app.
    me = api("GET", "/api/auth/user/info", token=data["access_token"])
    assert me.status_code == 200 and me.json()["data"]["user_id"] == claims["sub"]
    info = requests.get(
        f"{base_url}/oauth2/userinfo", headers={"Authorization": f"Bearer {data['access_token']}"}, timeout=10
    )
    assert (
        info.status_code == 200
        and info.json()["sub"] == claims["sub"]
        and info.json()["email"] == f"{person}@example.com"
    )
    assert (
        requests.get(f"{base_url}/oauth2/userinfo", headers={"Authorization": "Bearer nope"}, timeout=10).status_code
        == 401
    )

    refreshed = client.refresh(data["refresh_token"])
    assert refreshed.status_code == 200 and refreshed.json()["refresh_token"] != data["refresh_token"]
    assert api("GET", "/api/auth/user/info", token=refreshed.json()["access_token"]).status_code == 200


def test_single_sign_on_into_a_second_client_and_prompt_none(base_url, make_client, person) -> None:
    shop, blog, browser = make_client(), make_client(), Browser(base_url)
    # No center session: prompt=none answers login_required to the client.
    refused = browser.get(blog.authorize_url(prompt="none"))
    assert refused.status_code == 302 and query_of(refused.headers["Location"])["error"] == "login_required"
    assert sign_in(browser, shop, person).status_code == 302
    # Signed in for shop: blog gets a code with no page, prompt=none too.
    for prompt in (None, "none"):
        back = browser.get(blog.authorize_url(prompt=prompt))
        assert back.status_code == 302, back.text[:200]
        code = query_of(back.headers["Location"])["code"]
        assert blog.token(code).status_code == 200
    # prompt=login asks again; max_age=0 as well.
    assert browser.get(blog.authorize_url(prompt="login")).status_code == 200
    # Another browser is not signed in.
    assert Browser(base_url).get(blog.authorize_url()).status_code == 200


def test_logout_ends_every_app_session_and_tells_each_client(base_url, make_client, person, api) -> None:
    receiver = LogoutReceiver()
    try:
        shop, blog = make_client(backchannel_logout_uri=receiver.url), make_client()
        browser = Browser(base_url)
        code = query_of(sign_in(browser, shop, person).headers["Location"])["code"]
        shop_tokens = shop.token(code).json()
        code = query_of(browser.get(blog.authorize_url()).headers["Location"])["code"]
        blog_tokens = blog.token(code).json()
        sid = shop.id_claims(shop_tokens["id_token"])["sid"]

        bye = f"http://127.0.0.1:9/{shop.client_id}/bye"
        out = browser.get(
            "/oauth2/logout", id_token_hint=shop_tokens["id_token"], post_logout_redirect_uri=bye, state="s-1"
        )
        assert out.status_code == 302 and out.headers["Location"] == f"{bye}?state=s-1"
        assert "__Host-uc_center" not in browser.cookies
        for tokens in (shop_tokens, blog_tokens):  # every app session the center session opened
            assert api("GET", "/api/auth/user/info", token=tokens["access_token"]).status_code == 401
        assert browser.get(shop.authorize_url(prompt="none")).headers["Location"].count("login_required") == 1

        logout_token = receiver.wait_for(1)[0]
        key = jwt.PyJWKClient(f"{base_url}/.well-known/jwks.json").get_signing_key_from_jwt(logout_token)
        claims = jwt.decode(
            logout_token, key.key, algorithms=["ES256", "RS256"], audience=shop.client_id, issuer=base_url
        )
        assert claims["sid"] == sid and claims["sub"] == shop.id_claims(shop_tokens["id_token"])["sub"]
        assert "http://schemas.openid.net/event/backchannel-logout" in claims["events"] and "nonce" not in claims
        assert jwt.get_unverified_header(logout_token)["typ"] == "logout+jwt"
    finally:
        receiver.close()


def test_logout_without_a_hint_asks_first_and_checks_the_form(base_url, make_client, person) -> None:
    shop, browser = make_client(), Browser(base_url)
    sign_in(browser, shop, person)
    page = browser.get("/oauth2/logout")
    assert page.status_code == 200 and 'name="confirm"' in page.text and "__Host-uc_center" in browser.cookies
    forged = browser.post("/oauth2/logout", {"confirm": "1", "csrf_token": "forged"})
    assert forged.status_code == 403 and "__Host-uc_center" in browser.cookies
    done = browser.submit(page)
    assert done.status_code == 200 and "__Host-uc_center" not in browser.cookies
    assert browser.get(shop.authorize_url()).status_code == 200  # the sign-in page again


def test_refusals(base_url, make_client, person, api) -> None:
    shop, blog, browser = make_client(), make_client(), Browser(base_url)
    # An unknown redirect URI or client is a page, never a redirect.
    for changes in ({"redirect_uri": "https://evil.example/cb"}, {"client_id": "nobody"}, {"redirect_uri": None}):
        page = browser.get(shop.authorize_url(**changes))
        assert page.status_code == 400 and "Location" not in page.headers
    # PKCE: missing or plain goes back to the client as invalid_request.
    for changes in ({"code_challenge": None, "code_challenge_method": None}, {"code_challenge_method": "plain"}):
        back = browser.get(shop.authorize_url(**changes))
        assert back.status_code == 302 and query_of(back.headers["Location"])["error"] == "invalid_request"
    assert query_of(browser.get(shop.authorize_url(scope="profile")).headers["Location"])["error"] == "invalid_scope"
    # The sign-in form without its CSRF token (or from another site) signs nobody in.
    page = browser.get(shop.authorize_url())
    assert browser.submit(page, username=person, password=PASSWORD, csrf_token="").status_code == 403
    page = browser.get(shop.authorize_url())
    cross = browser.post(
        page.url.replace(base_url, ""),
        {
            "csrf_token": browser.cookies["__Host-uc_csrf"],
            "method": "password",
            "username": person,
            "password": PASSWORD,
        },
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert cross.status_code == 403 and "__Host-uc_center" not in browser.cookies
    # A wrong password is the page again, with the API's answer.
    wrong = sign_in(browser, shop, person, password="wrong-password-9")
    assert wrong.status_code == 401 and "__Host-uc_center" not in browser.cookies

    back = sign_in(browser, shop, person)
    code = query_of(back.headers["Location"])["code"]
    # A code for another client, then the right one: the first presentation used it up.
    assert blog.token(code, verifier=shop.last["verifier"]).json()["error"] == "invalid_grant"
    assert shop.token(code).json()["error"] == "invalid_grant"
    # A replayed code ends what its first use opened.
    code = query_of(browser.get(shop.authorize_url()).headers["Location"])["code"]
    first = shop.token(code).json()
    assert shop.token(code).json()["error"] == "invalid_grant"
    assert api("GET", "/api/auth/user/info", token=first["access_token"]).status_code == 401
    # A wrong verifier.
    code = query_of(browser.get(shop.authorize_url()).headers["Location"])["code"]
    assert shop.token(code, verifier="x" * 43).json()["error"] == "invalid_grant"
    # A post_logout_redirect_uri the client did not register.
    refused = browser.get("/oauth2/logout", client_id=shop.client_id, post_logout_redirect_uri="https://evil.example/")
    assert refused.status_code == 400 and "Location" not in refused.headers


def test_a_confidential_client_proves_its_secret_and_revokes(base_url, make_client, person, api) -> None:
    shop, browser = make_client(client_type="confidential", rotate_client_secret=True), Browser(base_url)
    assert shop.secret
    code = query_of(sign_in(browser, shop, person).headers["Location"])["code"]
    public = Client(base_url, shop.client_id, shop.redirect_uri)
    assert public.token(code, verifier=shop.last["verifier"]).status_code == 401  # no secret: invalid_client
    code = query_of(browser.get(shop.authorize_url()).headers["Location"])["code"]
    tokens = shop.token(code)
    assert tokens.status_code == 200
    assert shop.revoke(tokens.json()["refresh_token"]).status_code == 200
    assert api("GET", "/api/auth/user/info", token=tokens.json()["access_token"]).status_code == 401
    assert shop.refresh(tokens.json()["refresh_token"]).json()["error"] == "invalid_grant"


def test_pages_speak_chinese_by_default_and_english_on_request(base_url, make_client) -> None:
    shop = make_client()
    assert "登录" in Browser(base_url).get(shop.authorize_url()).text
    assert "Sign in" in Browser(base_url, lang="en-US").get(shop.authorize_url()).text
    assert "Sign in" in Browser(base_url).get(shop.authorize_url(ui_locales="en")).text


def test_sms_code_sign_in_registers_a_new_phone_then_knows_it(base_url, make_client, server) -> None:
    from tests.e2e.test_codes_flow import new_phone, outbox_code

    shop, browser = make_client(), Browser(base_url)
    local, e164 = new_phone()
    page = browser.get(shop.authorize_url(tab="sms"))
    assert 'name="phone"' in page.text and 'autocomplete="one-time-code"' in page.text
    sent = browser.submit(page, method="sms_send", phone=local)
    assert sent.status_code == 200 and 'data-wait="60"' in sent.text and f'value="{local}"' in sent.text
    # The API's cooldown holds here too (each page has its own CSRF token: go on from the newest)
    cooled = browser.submit(sent, method="sms_send", phone=local)
    assert cooled.status_code == 429
    stale = browser.submit(sent, method="sms", phone=local, sms_code="000000")
    assert stale.status_code == 403  # an older page's token
    wrong = browser.submit(stale, method="sms", phone=local, sms_code="000000")
    assert wrong.status_code == 400 and "验证码错误" in wrong.text and "__Host-uc_center" not in browser.cookies
    back = browser.submit(wrong, method="sms", phone=local, sms_code=outbox_code(server, e164, "login"))
    assert back.status_code == 302, back.text[:300]
    tokens = shop.token(query_of(back.headers["Location"])["code"]).json()
    first = shop.id_claims(tokens["id_token"])
    assert first["amr"] == ["sms"]

    # The same phone again, in another browser: the same person, and the code is single use
    other = Browser(base_url)
    page = other.get(shop.authorize_url(tab="sms"))
    used = other.submit(page, method="sms", phone=local, sms_code=outbox_code(server, e164, "login"))
    assert used.status_code == 400  # the code was used by the first sign-in


def test_email_code_sign_in_for_an_account_with_that_email(base_url, make_client, person, server, unique) -> None:
    from tests.e2e.test_codes_flow import outbox_code

    shop, browser = make_client(), Browser(base_url, lang="en")
    email = f"{person}@example.com"
    page = browser.get(shop.authorize_url(tab="email"))
    sent = browser.submit(page, method="email_send", email=email)
    assert sent.status_code == 200 and "Code sent" in sent.text
    back = browser.submit(sent, method="email", email=email, email_code=outbox_code(server, email, "login"))
    assert back.status_code == 302, back.text[:300]
    claims = shop.id_claims(shop.token(query_of(back.headers["Location"])["code"]).json()["id_token"])
    assert claims["amr"] == ["otp"] and claims["preferred_username"] == person

    # An address no account uses: the code proves it, and the page says so (no account is made)
    nobody, browser = f"{unique('nb')}@example.com", Browser(base_url, lang="en")
    sent = browser.submit(browser.get(shop.authorize_url(tab="email")), method="email_send", email=nobody)
    refused = browser.submit(sent, method="email", email=nobody, email_code=outbox_code(server, nobody, "login"))
    assert refused.status_code == 404 and "No account uses this email" in refused.text


def test_wechat_mock_sign_in_in_local_mode_is_one_person_per_identifier(base_url, make_client, unique) -> None:
    shop, blog = make_client(), make_client()
    wechat_id = unique("wx")
    subs = []
    for client in (shop, blog):  # two browsers, two clients, one WeChat user
        browser = Browser(base_url)
        page = browser.get(client.authorize_url(tab="wechat"))
        assert page.status_code == 200 and 'name="code"' in page.text and "open.weixin.qq.com" not in page.text
        back = browser.submit(page, method="wechat", code=wechat_id)
        assert back.status_code == 302, back.text[:300]
        claims = client.id_claims(client.token(query_of(back.headers["Location"])["code"]).json()["id_token"])
        assert claims["amr"] == ["wechat"]
        subs.append(claims["sub"])
    assert subs[0] == subs[1]


def test_register_on_the_page_comes_back_signed_in(base_url, make_client, person, unique, server) -> None:
    from tests.e2e.test_codes_flow import outbox_code

    shop, browser = make_client(), Browser(base_url)
    page = browser.get(shop.authorize_url(tab="register"))
    assert 'name="confirm_password"' in page.text and 'autocomplete="new-password"' in page.text
    name = unique("rg")
    mismatch = browser.submit(page, method="register", username=name, password=PASSWORD, confirm_password="other-9x")
    assert mismatch.status_code == 400 and "两次输入的密码不一致" in mismatch.text
    taken = browser.submit(mismatch, method="register", username=person, password=PASSWORD, confirm_password=PASSWORD)
    assert taken.status_code == 409 and f'value="{person}"' in taken.text and PASSWORD not in taken.text
    done = browser.submit(taken, method="register", username=name, password=PASSWORD, confirm_password=PASSWORD)
    assert done.status_code == 302, done.text[:300]
    claims = shop.id_claims(shop.token(query_of(done.headers["Location"])["code"]).json()["id_token"])
    assert claims["preferred_username"] == name and claims["amr"] == ["pwd"]

    # An app that asks for a proven email: the page asks for its code, and the email is proven
    strict, browser = make_client(require_email_verification=True), Browser(base_url)
    page = browser.get(strict.authorize_url(tab="register"))
    assert 'name="email_code"' in page.text
    email = f"{unique('rv')}@example.com"
    sent = browser.submit(page, method="register_email_send", email=email)
    assert sent.status_code == 200 and 'data-wait="60"' in sent.text
    fields = {"username": unique("rv"), "password": PASSWORD, "confirm_password": PASSWORD, "email": email}
    done = browser.submit(sent, method="register", email_code=outbox_code(server, email, "register"), **fields)
    assert done.status_code == 302, done.text[:300]
    claims = strict.id_claims(strict.token(query_of(done.headers["Location"])["code"]).json()["id_token"])
    assert claims["email"] == email and claims["email_verified"] is True


def test_forgot_password_by_email_resets_it_and_signs_out_everywhere(
    base_url, make_client, person, api, server
) -> None:
    from tests.e2e.test_codes_flow import outbox_code

    before = api("POST", "/api/auth/login", json={"username": person, "password": PASSWORD}).json()["data"]
    shop, browser = make_client(), Browser(base_url)
    page = browser.get(shop.authorize_url(tab="forgot_email"))
    assert 'name="new_password"' in page.text and 'name="email"' in page.text
    email = f"{person}@example.com"
    sent = browser.submit(page, method="reset_email_send", email=email)
    new = "brand-new-password-2"
    wrong = browser.submit(
        sent, method="reset_email", email=email, email_code="000000", new_password=new, confirm_password=new
    )
    assert wrong.status_code == 400
    code = outbox_code(server, email, "reset_password")
    done = browser.submit(
        wrong, method="reset_email", email=email, email_code=code, new_password=new, confirm_password=new
    )
    assert done.status_code == 200 and 'name="password"' in done.text and "密码已重置" in done.text
    assert api("GET", "/api/auth/user/info", token=before["access_token"]).status_code == 401
    assert sign_in(Browser(base_url), shop, person, password=new).status_code == 302


def test_the_account_page_lists_and_ends_app_sessions_and_changes_the_password(
    base_url, make_client, person, api
) -> None:
    shop, browser = make_client(), Browser(base_url)
    assert browser.get("/account").headers["Location"].endswith("/login")  # not signed in: the center's sign-in
    login = browser.get("/login")
    assert login.status_code == 200 and 'name="password"' in login.text
    landed = browser.submit(login, username=person, password=PASSWORD)
    assert at_account(landed) and browser.prompts_skipped == 1  # the passkey prompt, then the account page
    tokens = shop.token(query_of(browser.get(shop.authorize_url()).headers["Location"])["code"]).json()
    page = browser.get("/account")
    assert page.status_code == 200 and person in page.text and shop.client_id in page.text
    assert "center-tests/1.0" in page.text  # the app session shows the browser, not the client's back end
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]

    # Sign out of every app: the shop's tokens stop working, the center session stays
    ended = browser.submit_form(page, "end_all")
    assert (
        ended.status_code == 200 and api("GET", "/api/auth/user/info", token=tokens["access_token"]).status_code == 401
    )
    assert browser.get("/account").status_code == 200

    # A wrong current password is refused; the right one changes it and ends the center session too
    page = browser.get("/account")
    wrong = browser.submit_form(
        page,
        "change_password",
        old_password="nope-nope-1",
        new_password="another-pass-3",
        confirm_password="another-pass-3",
    )
    assert wrong.status_code == 401
    done = browser.submit_form(
        wrong,
        "change_password",
        old_password=PASSWORD,
        new_password="another-pass-3",
        confirm_password="another-pass-3",
    )
    assert done.status_code == 200 and "__Host-uc_center" not in browser.cookies
    assert sign_in(Browser(base_url), shop, person, password="another-pass-3").status_code == 302


def test_an_app_that_requires_a_captcha_gets_one_on_its_page(base_url, make_client, person) -> None:
    guarded, browser = make_client(require_captcha=True), Browser(base_url)
    page = browser.get(guarded.authorize_url())
    assert '<img src="data:image/png;base64,' in page.text and 'name="captcha_key"' in page.text
    refused = browser.submit(page, username=person, password=PASSWORD, captcha_code="wrong")
    assert refused.status_code == 400 and "__Host-uc_center" not in browser.cookies
    assert 'name="captcha_code"' in refused.text  # a new captcha to try again
    # The plain tab of another app shows none
    assert 'name="captcha_key"' not in Browser(base_url).get(make_client().authorize_url()).text


def test_the_account_page_changes_the_phone_by_code_and_links_wechat(base_url, person, server, unique) -> None:
    from tests.e2e.test_codes_flow import new_phone, outbox_code

    browser = Browser(base_url)
    browser.submit(browser.get("/login"), username=person, password=PASSWORD)
    page = browser.get("/account")
    local, e164 = new_phone()
    sent = browser.submit_form(page, "change_phone_send", phone=local)
    assert sent.status_code == 200 and 'data-wait="60"' in sent.text
    wrong = browser.submit_form(sent, "change_phone", phone=local, sms_code="000000")
    assert wrong.status_code == 400
    done = browser.submit_form(wrong, "change_phone", phone=local, sms_code=outbox_code(server, e164, "change_phone"))
    assert done.status_code == 200 and e164 in done.text

    # WeChat, mocked locally: linked to this person; the same WeChat user then signs in as them
    wechat_id = unique("wb")
    linked = browser.submit_form(done, "bind_wechat", code=wechat_id)
    assert linked.status_code == 200 and "微信 (web)" in linked.text
    other = Browser(base_url)
    page = other.get("/login", tab="wechat")
    assert at_account(other.submit(page, method="wechat", code=wechat_id))
    assert person in other.get("/account").text


def test_what_an_attacker_tries_with_the_center(base_url, make_client, person, api) -> None:
    shop = make_client()
    # A token the center did not issue (the API's own sign-in): userinfo will not speak for it, and the
    # center's token endpoint will not refresh it
    signed_in = api("POST", "/api/auth/login", json={"username": person, "password": PASSWORD}).json()["data"]
    info = requests.get(
        f"{base_url}/oauth2/userinfo", headers={"Authorization": f"Bearer {signed_in['access_token']}"}, timeout=10
    )
    assert info.status_code == 403 and info.json() == {"error": "insufficient_scope"}
    assert Client(base_url, "app0", shop.redirect_uri).refresh(signed_in["refresh_token"]).json()["error"] in (
        "invalid_grant",
        "invalid_client",
    )
    # A forged post to the account page (no token from the page) changes nothing
    browser = Browser(base_url)
    browser.submit(browser.get("/login"), username=person, password=PASSWORD)
    tokens = shop.token(query_of(browser.get(shop.authorize_url()).headers["Location"])["code"]).json()
    forged = browser.post("/account", {"method": "end_all", "csrf_token": "guess"})
    assert forged.status_code == 403
    assert api("GET", "/api/auth/user/info", token=tokens["access_token"]).status_code == 200
    # A parameter far too long is refused before anything else
    assert browser.get(shop.authorize_url(state="s" * 5000)).status_code == 400
    # The static route serves only the center's own files
    assert requests.get(f"{base_url}/center/static/..%2Fpages.py", timeout=10).status_code == 404
