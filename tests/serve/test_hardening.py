"""Service hardening: allowed hosts, security headers, HEAD, the token, docs and the CSP."""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import json
import logging
import re
import socket
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

import shortlister.serve.middleware as middleware_mod
from shortlister.core.errors import ConfigError
from shortlister.serve.app import create_app
from shortlister.serve.middleware import SECURITY_HEADERS, AllowedHostsMiddleware
from shortlister.serve.settings import ServeSettings
from shortlister.serve.state import build_state
from tests.serve.helpers import LOCAL_URL, running_server, tfidf_settings
from tests.serve.page_kit import RECORD_VIOLATIONS, launch_browser

TOKEN = "hardening-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TOKEN_ENV = "SHORTLISTER_API_TOKEN"


@pytest.fixture(scope="module")
def state(small_pool_csv):
    return build_state(tfidf_settings(small_pool_csv))


@pytest.fixture(scope="module")
def client(state):
    return TestClient(create_app(state.settings, state=state), base_url=LOCAL_URL)


@pytest.fixture
def token_client(state, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return TestClient(create_app(state.settings, state=state), base_url=LOCAL_URL)


def _assert_security_headers(response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.request.url, name)


# --- allowed hosts -------------------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "testserver"])
def test_a_foreign_host_gets_400_naming_it(client, host):
    response = client.get("/health", headers={"Host": host})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_host"
    assert host in body["detail"] and "serve.allowed_hosts" in body["detail"]
    _assert_security_headers(response)


def test_a_foreign_host_is_refused_before_the_body_or_the_token(token_client):
    response = token_client.post(
        "/rank", json={"query": "nurse"}, headers={"Host": "evil.example", **AUTH}
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_host"


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.0.0.1:8000", "localhost", "LocalHost:1234", "localhost.", "[::1]",
     "[::1]:8000"],
)  # fmt: skip
def test_loopback_names_are_served_with_or_without_a_port(client, host):
    response = client.get("/health", headers={"Host": host})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1.evil.example", "localhost.evil.example:80", "[::2]:80", "0.0.0.0:8000",
     "[::1", ""],
)  # fmt: skip
def test_look_alike_hosts_are_refused(client, host):
    response = client.get("/health", headers={"Host": host})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_host"


def test_configured_hosts_replace_the_default(small_pool_csv):
    settings = tfidf_settings(
        small_pool_csv, allowed_hosts=["shortlist.example.org", "*.corp.example"]
    )
    client = TestClient(create_app(settings, state=build_state(settings)))
    for host, status in [
        ("shortlist.example.org", 200),
        ("Shortlist.Example.Org:443", 200),
        ("team.corp.example", 200),
        ("a.b.corp.example:8000", 200),
        ("corp.example", 400),
        ("evilcorp.example", 400),
        ("127.0.0.1", 400),
    ]:
        assert client.get("/health", headers={"Host": host}).status_code == status, host
    anywhere = tfidf_settings(small_pool_csv, allowed_hosts=["*"])
    open_client = TestClient(create_app(anywhere, state=build_state(anywhere)))
    assert open_client.get("/health", headers={"Host": "anything.example"}).status_code == 200


def test_a_request_without_host_is_refused():
    async def inner(scope, receive, send):  # pragma: no cover - must not be reached
        raise AssertionError("the app was called")

    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/health", "headers": []}
    asyncio.run(AllowedHostsMiddleware(inner, ["127.0.0.1"])(scope, receive, send))
    assert sent[0]["status"] == 400
    body = json.loads(sent[1]["body"])
    assert body["error"] == "invalid_host" and "no Host header" in body["detail"]


def test_default_allowed_hosts_follow_the_bound_host(caplog):
    assert ServeSettings().host_allowlist() == ["127.0.0.1", "localhost", "::1"]
    assert ServeSettings(host="localhost").host_allowlist() == ["127.0.0.1", "localhost", "::1"]
    assert "127.0.0.2" in ServeSettings(host="127.0.0.2").host_allowlist()
    assert not caplog.records
    with caplog.at_level(logging.WARNING, logger="shortlister.serve.settings"):
        lan = ServeSettings(host="10.1.2.3").host_allowlist()
        wildcard = ServeSettings(host="0.0.0.0").host_allowlist()
    assert lan == ["10.1.2.3", "127.0.0.1", "localhost", "::1"]
    assert wildcard == [socket.gethostname(), "127.0.0.1", "localhost", "::1"]
    assert "0.0.0.0" not in wildcard
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2 and all("serve.allowed_hosts" in w for w in warnings)
    given = ServeSettings(host="0.0.0.0", allowed_hosts=[" shortlist.example.org "])
    assert given.host_allowlist() == ["shortlist.example.org"]


def test_allowed_hosts_from_params_and_validation():
    settings = ServeSettings.from_config({"serve": {"allowed_hosts": ["a.example", "[::1]"]}})
    assert settings.allowed_hosts == ["a.example", "[::1]"]
    assert ServeSettings.from_config({"serve": {"allowed_hosts": None}}).allowed_hosts is None
    for bad in ("a.example", [], ["ok", ""], [5]):
        with pytest.raises(ConfigError, match="serve.allowed_hosts"):
            ServeSettings(allowed_hosts=bad)


# --- security headers --------------------------------------------------------------


def test_security_headers_on_every_kind_of_response(state, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    app = create_app(state.settings, state=state)

    @app.get("/boom", include_in_schema=False)
    def boom() -> None:
        raise RuntimeError("an unexpected failure")

    client = TestClient(app, base_url=LOCAL_URL, headers=AUTH, raise_server_exceptions=False)
    too_big = "x" * (state.settings.max_body_bytes + 1)
    responses = {
        200: [
            client.get("/"),
            client.get("/health"),
            client.get("/methods"),
            client.post("/rank", json={"query": "nurse"}),
            client.get("/static/app.js"),
            client.get("/static/style.css"),
            client.get("/docs"),
            client.get("/docs-static/swagger-ui.css"),
            client.get("/openapi.json"),
        ],
        400: [client.get("/health", headers={"Host": "evil.example"})],
        401: [client.get("/methods", headers={"Authorization": "Bearer wrong"})],
        404: [
            client.get("/no-such-page"),
            client.get("/static/missing.js"),
            client.get("/candidates/nobody"),
        ],
        405: [client.get("/rank")],
        413: [client.post("/rank", content=too_big, headers={"Content-Type": "application/json"})],
        422: [client.post("/rank", json={"query": "x", "top_k": "ten"})],
        500: [client.get("/boom")],
    }
    for status, group in responses.items():
        for response in group:
            assert response.status_code == status, (response.request.url, response.text)
            _assert_security_headers(response)


def test_the_page_and_docs_have_no_inline_script_or_style(client):
    for path in ("/", "/docs"):
        html = client.get(path).text
        scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
        assert scripts and all("src=" in attrs and not body.strip() for attrs, body in scripts)
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=", html), path


# --- HEAD ----------------------------------------------------------------------------


def _head_paths(state) -> list[str]:
    return [
        "/",
        "/health",
        "/methods",
        f"/candidates/{state.rows[0]['id']}",
        "/openapi.json",
        "/docs",
        "/static/app.js",
        "/static/docs.js",
        "/docs-static/swagger-ui-bundle.js",
        "/candidates/nobody",  # a 404 answers HEAD as it answers GET
    ]


def test_head_answers_every_get_route_like_get_without_a_body(client, state):
    for path in _head_paths(state):
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code, path
        assert got.status_code in (200, 404) and got.content, path
        assert head.content == b"", path
        assert dict(head.headers) == dict(got.headers), path
        assert int(head.headers["content-length"]) == len(got.content), path


def test_head_needs_the_token_where_get_does(token_client):
    assert token_client.head("/methods").status_code == 401
    ok = token_client.head("/methods", headers=AUTH)
    assert ok.status_code == 200 and ok.content == b""
    assert token_client.head("/health").status_code == 200


# --- the token -----------------------------------------------------------------------


def test_wrong_tokens_of_any_length_get_401(token_client):
    for given in ["hardening-tokeX", "h", "hardening-token-and-more", TOKEN.upper(), ""]:
        response = token_client.get("/methods", headers={"Authorization": f"Bearer {given}"})
        assert response.status_code == 401, given
        assert response.json()["error"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"
    assert token_client.get("/methods", headers={"Authorization": TOKEN}).status_code == 401
    assert token_client.get("/methods", headers=AUTH).status_code == 200
    assert token_client.get("/methods", headers={"Authorization": f"bearer {TOKEN}"}).is_success


def test_the_token_comparison_does_not_depend_on_its_length(token_client, monkeypatch):
    compared: list[tuple[bytes, bytes]] = []
    real = middleware_mod.hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(middleware_mod.hmac, "compare_digest", spy)
    for given in ["x", "hardening-tokeX", "y" * 500, TOKEN]:
        token_client.get("/methods", headers={"Authorization": f"Bearer {given}"})
    assert len(compared) == 4
    # Both sides are SHA-256 digests: 32 bytes whatever was sent, never the token itself.
    assert all(len(a) == len(b) == 32 for a, b in compared)
    assert all(b == hashlib.sha256(TOKEN.encode()).digest() for _, b in compared)


# --- docs ----------------------------------------------------------------------------


def test_docs_and_schema_are_public_while_the_endpoints_need_the_token(token_client):
    docs = token_client.get("/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    assert "/docs-static/swagger-ui-bundle.js" in docs.text and "/static/docs.js" in docs.text
    assert "http://" not in docs.text and "https://" not in docs.text  # no CDN
    assert all("src=" in tag for tag in re.findall(r"<script\b[^>]*>", docs.text))
    schema = token_client.get("/openapi.json")
    assert schema.status_code == 200
    assert schema.json()["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for asset in ("/docs-static/swagger-ui-bundle.js", "/docs-static/swagger-ui.css"):
        response = token_client.get(asset)
        assert response.status_code == 200 and len(response.content) > 10_000, asset
    assert "SwaggerUIBundle" in token_client.get("/static/docs.js").text
    assert token_client.get("/methods").status_code == 401
    assert token_client.post("/rank", json={"query": "nurse"}).status_code == 401
    assert token_client.get("/redoc", headers=AUTH).status_code == 404  # needs a CDN: off


# --- a real server ---------------------------------------------------------------------


def _request(url: str, method: str, path: str, headers: dict[str, str] | None = None):
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()  # headers: any case
    finally:
        conn.close()


def test_a_real_server_checks_host_adds_headers_and_answers_head(state, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    app = create_app(state.settings, state=state)
    with running_server(app) as url:
        status, headers, body = _request(url, "GET", "/health", {"Host": "evil.example"})
        assert status == 400
        error = json.loads(body)
        assert set(error) == {"error", "detail"} and error["error"] == "invalid_host"
        assert "'evil.example'" in error["detail"]
        assert headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]
        status, headers, body = _request(url, "GET", "/health")  # Host: 127.0.0.1:<port>
        assert status == 200 and json.loads(body)["auth_required"] is True
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        for path in ("/", "/health", "/docs", "/openapi.json", "/static/app.js"):
            got_status, got_headers, got_body = _request(url, "GET", path)
            head_status, head_headers, head_body = _request(url, "HEAD", path)
            assert head_status == got_status == 200, path
            assert head_body == b"" and got_body, path
            assert head_headers["content-length"] == str(len(got_body)), path
            assert head_headers["Referrer-Policy"] == "no-referrer", path
        assert _request(url, "GET", "/methods")[0] == 401
        assert _request(url, "GET", "/methods", AUTH)[0] == 200


# --- in a browser: the page and /docs under the CSP --------------------------------------


@pytest.fixture(scope="module")
def browser():
    yield from launch_browser()


def _open(browser, url: str):
    """A page that aborts and records every request to another origin (it must be offline)."""
    page = browser.new_page(viewport={"width": 1280, "height": 960})
    log: dict[str, list] = {"console": [], "errors": [], "foreign": [], "requests": []}
    page.add_init_script(RECORD_VIOLATIONS)
    page.on("console", lambda m: log["console"].append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda exc: log["errors"].append(str(exc)))
    page.on("request", lambda r: log["requests"].append((r.method, urlsplit(r.url).path)))

    def route(route):
        if route.request.url.startswith(url):
            route.continue_()
        else:
            log["foreign"].append(route.request.url)
            route.abort()

    page.route("**/*", route)
    return page, log


def _assert_clean(page, log) -> None:
    assert page.evaluate("() => window.__cspViolations") == []
    csp = [m for m in log["console"] if "Content Security Policy" in m]
    assert not csp, csp
    assert not log["errors"], log["errors"]
    assert not log["foreign"], log["foreign"]


def test_the_page_works_under_the_csp(browser, state):
    from playwright.sync_api import expect

    with running_server(create_app(state.settings, state=state)) as url:
        page, log = _open(browser, url)
        response = page.goto(url)
        csp = response.headers["content-security-policy"]
        assert csp == SECURITY_HEADERS["Content-Security-Policy"]
        expect(page.locator("[data-testid=method] option")).to_have_text(["keywords"])
        page.fill("[data-testid=query]", "engineer")
        page.press("[data-testid=query]", "Enter")
        expect(page.locator("[data-testid=result-row]")).to_have_count(20)
        page.locator("[data-testid=star-toggle]").nth(2).click()
        expect(page.locator("[data-testid=result-row][data-starred=true]")).to_have_count(1)
        # The match bars are sized through the CSSOM, which the policy allows.
        assert page.locator(".bar span").first.evaluate("e => e.style.width").endswith("%")
        _assert_clean(page, log)
        page.close()


def test_the_page_asks_for_the_token_and_says_plainly_when_it_is_wrong(browser, state, monkeypatch):
    from playwright.sync_api import expect

    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with running_server(create_app(state.settings, state=state)) as url:
        page, log = _open(browser, url)
        page.goto(url)
        token, error = page.locator("[data-testid=token]"), page.locator("[data-testid=error]")
        method = page.locator("[data-testid=method]")
        expect(token).to_be_visible()
        expect(token).to_be_focused()
        expect(error).to_contain_text("This server needs an API token")
        expect(error).to_contain_text("SHORTLISTER_API_TOKEN")
        expect(method).to_be_disabled()
        expect(method.locator("option")).to_have_text(["enter the API token first"])

        page.fill("[data-testid=query]", "engineer")
        page.press("[data-testid=query]", "Enter")
        expect(token).to_be_focused()  # asked again instead of a request bound to fail

        token.fill("not-the-token")
        token.dispatch_event("change")
        expect(error).to_contain_text("The API token is wrong.")
        expect(error).to_contain_text("the SHORTLISTER_API_TOKEN environment variable")
        expect(token).to_be_focused()
        expect(token).to_have_attribute("aria-invalid", "true")
        expect(method).to_be_disabled()
        page.fill("[data-testid=query]", "nurse")
        page.press("[data-testid=query]", "Enter")
        expect(error).to_contain_text("The API token is wrong.")
        assert ("POST", "/rank") not in log["requests"]  # nothing sent that would get 401

        token.fill(TOKEN)
        token.dispatch_event("change")
        expect(method.locator("option")).to_have_text(["keywords"])
        expect(method).to_be_enabled()
        expect(error).to_be_hidden()
        page.press("[data-testid=query]", "Enter")
        expect(page.locator("[data-testid=result-row]").first).to_be_visible()
        assert ("POST", "/rank") in log["requests"]
        # One try for the wrong token, one for the right one: a refused token is not sent
        # again on the next search.
        assert log["requests"].count(("GET", "/methods")) == 2, repr(log["requests"][3:])
        _assert_clean(page, log)
        page.close()


def test_docs_render_offline_under_the_csp_and_use_the_token(browser, state, monkeypatch):
    from playwright.sync_api import expect

    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with running_server(create_app(state.settings, state=state)) as url:
        page, log = _open(browser, url)
        page.goto(f"{url}/docs")
        paths = page.locator(".opblock-summary-path")
        expect(paths).to_contain_text(
            ["/health", "/methods", "/candidates/{candidate_id}", "/rank"]
        )
        page.click("button.authorize")
        page.fill(".modal-ux input", TOKEN)
        page.click(".modal-ux button.authorize")
        page.click(".modal-ux button.close-modal")
        page.click("#operations-ranking-methods_methods_get .opblock-summary")
        page.click("#operations-ranking-methods_methods_get button.try-out__btn")
        page.click("#operations-ranking-methods_methods_get button.execute")
        status = page.locator("#operations-ranking-methods_methods_get .live-responses-table")
        expect(status.locator("td.response-col_status:not(.col_header)")).to_have_text("200")
        _assert_clean(page, log)
        page.close()
