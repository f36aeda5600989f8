"""The OpenAPI document and its two viewers, Swagger UI and ReDoc, with their scripts and styles served from files
shipped in the `fastapi-offline` package (the pages work without network), and who may read them.

`server.docs`: `public`, `token` (any valid API key, whatever its scope, when auth is on: the document describes the
API, not anyone's data; the pages and the document need the key, the viewers' scripts and styles do not) or `off`
(all 404). Unset, it is `public` when the server listens on a loopback address and `token` otherwise.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from honcho_server.api.policy import Policy, authorize
from honcho_server.config import Access, Settings
from honcho_server.hosts import is_loopback

ASSETS_URL = "/docs-assets"
OPENAPI_URL = "/openapi.json"
# Any valid key: authenticated, no resource named in the path, no claims to compare.
ANY_KEY = Policy(workspace=None, self_check=True)


def access(settings: Settings) -> Access:
    """`server.docs`, or its default for where the server listens."""
    if settings.server.docs is not None:
        return settings.server.docs
    return "public" if is_loopback(settings.server.host) else "token"


async def _any_key(request: Request) -> None:
    await authorize(request, ANY_KEY, request.app.state.deps)


def install(app: FastAPI, settings: Settings) -> None:
    """Add the document, the two pages and their assets to `app` (built with FastAPI's own docs switched off)."""
    mode = access(settings)
    if mode == "off":
        return
    guard = [Depends(_any_key)] if mode == "token" else []  # with auth off every key is the anonymous admin
    app.mount(ASSETS_URL, StaticFiles(directory=str(files("fastapi_offline") / "static")), name="docs-assets")

    @app.get(OPENAPI_URL, include_in_schema=False, dependencies=guard)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=guard)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=root + OPENAPI_URL, title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False, dependencies=guard)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=root + OPENAPI_URL, title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png", with_google_fonts=False,
        )
