"""Webhook routes (spec 10.B, plus the delivery log). Workspace-level keys only: peer and session tokens are
refused. Delivery and signing: services/webhooks.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from honcho_server.api import render
from honcho_server.api.deps import DepsDep, PagingDep
from honcho_server.api.policy import PolicyRoute, policy
from honcho_server.api.schemas import PageOut, WebhookCreate, WebhookDeliveryOut, WebhookEndpointOut
from honcho_server.services import webhooks
from honcho_server.store.repos.webhooks import Delivery, Endpoint

router = APIRouter(prefix="/v3/workspaces/{workspace_id}/webhooks", tags=["webhooks"], route_class=PolicyRoute)


def _endpoint(workspace: str, e: Endpoint, with_secret: bool = False) -> dict[str, Any]:
    out = {"id": e.uid, "workspace_id": workspace, "url": e.url, "created_at": e.created_at}
    return {**out, "secret": e.secret} if with_secret else out


def _delivery(endpoint_uid: str) -> Any:
    def convert(d: Delivery) -> dict[str, Any]:
        return {"id": d.uid, "endpoint_id": endpoint_uid, "event_type": d.event_type, "status": d.status,
                "attempts": d.attempts, "last_status_code": d.last_status_code, "last_error": d.last_error,
                "body": d.body, "created_at": d.created_at, "updated_at": d.updated_at}
    return convert


@router.post("", response_model=WebhookEndpointOut, status_code=201)
@policy()
async def create_webhook(workspace_id: str, body: WebhookCreate, deps: DepsDep) -> Response:
    """Register `url` (201), or return the workspace's endpoint for it (200); its signing secret either way."""
    endpoint, created = await webhooks.create(deps, workspace_id, body.url)
    return render.respond(_endpoint(workspace_id, endpoint, with_secret=True), 201 if created else 200)


@router.get("", response_model=PageOut[WebhookEndpointOut])
@policy()
async def list_webhooks(workspace_id: str, deps: DepsDep, paging: PagingDep) -> Response:
    page = await webhooks.endpoints(deps, workspace_id, paging.page, paging.size)
    return render.respond(render.page(page, lambda e: _endpoint(workspace_id, e)))


@router.get("/test", response_model=None)
@policy()
async def test_webhooks(workspace_id: str, deps: DepsDep) -> Response:
    """Send a `test.event` to every endpoint of the workspace (delivered by the worker); answers `null`."""
    await webhooks.send_test(deps, workspace_id)
    return render.respond(None)


@router.delete("/{endpoint_id}", status_code=204)
@policy()
async def delete_webhook(workspace_id: str, endpoint_id: str, deps: DepsDep) -> Response:
    await webhooks.remove(deps, workspace_id, endpoint_id)
    return Response(status_code=204)


@router.get("/{endpoint_id}/deliveries", response_model=PageOut[WebhookDeliveryOut])
@policy()
async def list_deliveries(workspace_id: str, endpoint_id: str, deps: DepsDep, paging: PagingDep) -> Response:
    """The endpoint's delivery log, newest first: every event, its attempts and the last answer."""
    page = await webhooks.deliveries(deps, workspace_id, endpoint_id, paging.page, paging.size)
    return render.respond(render.page(page, _delivery(endpoint_id)))
