"""/openapi.json, /docs and /redoc: who may read them (server.docs) and that they need no network (issue 12 G)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from api_helpers import JWT_SECRET, bearer, sign

from honcho_server.api.app import create_app
from honcho_server.config import Settings
from honcho_server.services.deps import Deps

PAGES = ("/openapi.json", "/docs", "/redoc")
ASSET_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


def _factory(deps: Deps, database_url: str) -> Callable[..., Any]:
    @asynccontextmanager
    async def client(*, auth: bool, **server: Any) -> AsyncIterator[httpx.AsyncClient]:
        settings = Settings(db={"url": database_url}, server=server,
                            auth={"enabled": auth, "jwt_secret": JWT_SECRET if auth else None})
        app = create_app(settings, deps=Deps(db=deps.db, settings=settings))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
            yield c

    return client


@pytest.fixture
def docs_client(deps: Deps, database_url: str) -> Callable[..., Any]:
    return _factory(deps, database_url)


def _asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


async def test_docs_need_a_key_on_a_public_address_with_auth(docs_client: Callable[..., Any]) -> None:
    async with docs_client(auth=True, host="0.0.0.0") as client:
        for page in PAGES:
            response = await client.get(page)
            assert response.status_code == 401, page
            assert response.json() == {"detail": "No access token provided"}
            assert (await client.get(page, headers=bearer("not-a-jwt"))).status_code == 401
        # Any valid key, whatever its scope, may read the API's description.
        for key in (sign(ad=True), sign(w="some-workspace"), sign(w="some-workspace", p="alice")):
            document = await client.get("/openapi.json", headers=bearer(key))
            assert document.status_code == 200 and "/v3/workspaces" in document.json()["paths"]
            assert (await client.get("/docs", headers=bearer(key))).status_code == 200


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_viewers_load_their_assets_from_the_server(docs_client: Callable[..., Any], page: str) -> None:
    async with docs_client(auth=True, host="0.0.0.0") as client:
        response = await client.get(page, headers=bearer(sign(ad=True)))
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        html = response.text
        assert "http://" not in html and "https://" not in html  # no CDN, no web fonts
        urls = _asset_urls(html)
        assert {url.rsplit(".", 1)[-1] for url in urls} >= ({"js", "css"} if page == "/docs" else {"js"})
        assert "/openapi.json" in html
        for url in urls:
            assert url.startswith("/docs-assets/"), url
            asset = await client.get(url)  # no key needed: third-party scripts and styles, nothing of ours
            assert asset.status_code == 200, url
            kind = ASSET_TYPES["." + url.rsplit(".", 1)[-1]]
            assert kind in asset.headers["content-type"], (url, asset.headers["content-type"])
            assert len(asset.content) > 1000


async def test_docs_are_public_on_loopback_by_default(docs_client: Callable[..., Any]) -> None:
    for host in ("127.0.0.1", "localhost", "::1"):
        async with docs_client(auth=True, host=host) as client:
            for page in PAGES:
                assert (await client.get(page)).status_code == 200, (host, page)


@pytest.mark.parametrize(("setting", "host", "status"), [
    ("public", "0.0.0.0", 200), ("token", "127.0.0.1", 401), ("off", "127.0.0.1", 404), ("off", "0.0.0.0", 404)])
async def test_the_docs_setting_overrides_the_default(
    docs_client: Callable[..., Any], setting: str, host: str, status: int
) -> None:
    async with docs_client(auth=True, host=host, docs=setting) as client:
        for page in PAGES:
            assert (await client.get(page)).status_code == status, page
        if setting == "off":
            assert (await client.get("/docs-assets/swagger-ui.css")).status_code == 404


async def test_token_mode_without_auth_is_open_like_every_route(docs_client: Callable[..., Any]) -> None:
    async with docs_client(auth=False, host="0.0.0.0") as client:
        for page in PAGES:
            assert (await client.get(page)).status_code == 200, page


async def test_openapi_document_matches_the_app(docs_client: Callable[..., Any]) -> None:
    async with docs_client(auth=False) as client:
        served = (await client.get("/openapi.json")).json()
        assert served["info"]["title"] == "honcho-server"
        assert not any(path.startswith(("/docs", "/redoc", "/openapi")) for path in served["paths"])
