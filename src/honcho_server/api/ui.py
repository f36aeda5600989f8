"""The memory explorer at /ui: static pages (src/honcho_server/ui/static, no build step, nothing fetched from
elsewhere) that call the /v3 API from the browser with the key pasted into them.

The files hold no data, so they are served to anyone; the data they show comes from the API, which checks the
key as for any client (with auth on, the explorer sees only what the key may see)."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

UI_URL = "/ui"
# The pages run only their own scripts and talk only to this server: injected markup could do neither.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # revalidate: an upgraded server's pages replace the old ones at once
}


class _UiFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


def install(app: FastAPI) -> None:
    """Serve the explorer's files at /ui (index.html at /ui/)."""
    app.mount(UI_URL, _UiFiles(directory=str(files("honcho_server.ui") / "static"), html=True), name="ui")
