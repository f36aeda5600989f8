"""v1 apps and users (docs/v1-api.md §1.4, §3.2, §3.4): both SDK versions' routes, names and aliases, conflicts
that say not to retry, pagination, and what v3 sees of them."""

from __future__ import annotations

import httpx
from api_helpers import expect
from v1_route_helpers import APP_KEYS, USER_KEYS, new_app, new_user, page, shaped, users_url

from honcho_server.services.v1.names import derived_id


async def test_app_create_get_update(client: httpx.AsyncClient, app_name: str) -> None:
    made = await new_app(client, app_name, metadata={"tier": "gold"})
    assert (made["id"], made["name"], made["metadata"]) == (app_name, app_name, {"tier": "gold"})
    for response in (await client.get(f"/v1/apps/{app_name}"),
                     await client.get("/v1/apps", params={"app_id": app_name}),
                     await client.get(f"/v1/apps/name/{app_name}"),
                     await client.get(f"/v1/apps/get_or_create/{app_name}")):
        assert shaped(expect(response, 200), APP_KEYS) == made
    again = await client.post("/v1/apps", json={"name": app_name})
    expect(again, 409)
    assert again.headers["x-should-retry"] == "false"
    renamed = expect(await client.put(f"/v1/apps/{app_name}", json={"name": f"{app_name} renamed",
                                                                    "metadata": {"tier": "silver"}}), 200)
    assert (renamed["id"], renamed["name"], renamed["metadata"]) == (app_name, f"{app_name} renamed",
                                                                     {"tier": "silver"})
    assert expect(await client.get(f"/v1/apps/name/{app_name} renamed"), 200)["id"] == app_name
    expect(await client.get(f"/v1/apps/name/{app_name}"), 404)  # the old name is free again
    # v3 sees the same workspace, with the v1 metadata
    assert expect(await client.put(f"/v3/workspaces/{app_name}", json={}), 200)["metadata"] == {"tier": "silver"}
    # metadata left out or null: unchanged; renaming back to the id drops the alias
    back = expect(await client.put(f"/v1/apps/{app_name}", json={"name": app_name, "metadata": None}), 200)
    assert (back["name"], back["metadata"]) == (app_name, {"tier": "silver"})
    expect(await client.get(f"/v1/apps/name/{app_name}"), 200)


async def test_app_errors(client: httpx.AsyncClient, app_name: str) -> None:
    expect(await client.get(f"/v1/apps/{app_name}"), 404)
    expect(await client.get("/v1/apps", params={"app_id": app_name}), 404)
    expect(await client.get(f"/v1/apps/name/{app_name}"), 404)
    expect(await client.put(f"/v1/apps/{app_name}", json={"metadata": {}}), 404)
    assert "app_id" in str(expect(await client.get("/v1/apps"), 422)["detail"])  # auth off: no key to take it from
    expect(await client.post("/v1/apps", json={}), 422)
    expect(await client.post("/v1/apps", json={"name": ""}), 422)
    expect(await client.post("/v1/apps", json={"name": "x" * 513}), 422)
    expect(await client.post("/v1/apps", json={"name": app_name, "metadata": "nope"}), 422)
    other = await new_app(client, f"{app_name}-b")
    await new_app(client, app_name)
    taken = await client.put(f"/v1/apps/{app_name}", json={"name": other["name"]})
    expect(taken, 409)
    assert taken.headers["x-should-retry"] == "false"


async def test_free_text_and_reserved_names_get_derived_ids(client: httpx.AsyncClient, app_name: str) -> None:
    name = f"My App {app_name}@x"
    made = await new_app(client, name)
    assert made["id"] == derived_id(name) != name and made["name"] == name
    assert expect(await client.get(f"/v1/apps/name/{name}"), 200)["id"] == made["id"]
    assert expect(await client.get(f"/v1/apps/get_or_create/{name}"), 200)["id"] == made["id"]
    expect(await client.put(f"/v3/workspaces/{made['id']}", json={}), 200)  # v3 sees the derived id
    await new_app(client, app_name)
    for reserved in ("name", "get_or_create", "assistant"):
        user = await new_user(client, app_name, reserved)
        assert user["id"] == derived_id(reserved) and user["name"] == reserved
        assert expect(await client.get(users_url(app_name, "name", reserved)), 200)["id"] == user["id"]


async def test_user_routes(client: httpx.AsyncClient, app_name: str) -> None:
    await new_app(client, app_name)
    made = await new_user(client, app_name, "ada", metadata={"lang": "en"})
    assert (made["id"], made["name"], made["app_id"], made["metadata"]) == ("ada", "ada", app_name, {"lang": "en"})
    for response in (await client.get(users_url(app_name, "ada")),
                     await client.get(users_url(app_name), params={"user_id": "ada"}),
                     await client.get(users_url(app_name, "name", "ada")),
                     await client.get(users_url(app_name, "get_or_create", "ada"))):
        assert shaped(expect(response, 200), USER_KEYS) == made
    conflict = await client.post(users_url(app_name), json={"name": "ada"})
    expect(conflict, 409)
    assert conflict.headers["x-should-retry"] == "false"
    created = expect(await client.get(users_url(app_name, "get_or_create", "bea")), 200)
    assert created["id"] == "bea"
    renamed = expect(await client.put(users_url(app_name, "ada"), json={"name": "Ada L.", "metadata": {"x": 1}}), 200)
    assert (renamed["id"], renamed["name"], renamed["metadata"]) == ("ada", "Ada L.", {"x": 1})
    expect(await client.put(users_url(app_name, "bea"), json={"name": "Ada L."}), 409)
    # v3 sees the peer and its metadata; a v3 metadata change shows in v1
    peer = expect(await client.put(f"/v3/workspaces/{app_name}/peers/ada", json={"metadata": {"x": 2}}), 200)
    assert peer["id"] == "ada"
    assert expect(await client.get(users_url(app_name, "ada")), 200)["metadata"] == {"x": 2}
    # errors
    expect(await client.get(users_url(app_name, "nobody")), 404)
    expect(await client.get(users_url(app_name, "name", "nobody")), 404)
    expect(await client.get(users_url(app_name)), 422)
    expect(await client.post(users_url(f"{app_name}-missing"), json={"name": "x"}), 404)
    expect(await client.post(users_url(f"{app_name}-missing", "list"), json={}), 404)


async def test_list_pages_filters_and_past_the_end(client: httpx.AsyncClient, app_name: str) -> None:
    await new_app(client, app_name)
    for i in range(7):
        await new_user(client, app_name, f"u{i}", metadata={"even": i % 2 == 0})
    url = users_url(app_name, "list")
    seen = []
    for number in (1, 2, 3):
        found = await page(client, url, size=3, page=number)
        assert (found["total"], found["page"], found["size"], found["pages"]) == (7, number, 3, 3)
        seen += [u["id"] for u in found["items"]]
    assert seen == [f"u{i}" for i in range(7)]
    past = await page(client, url, size=3, page=4)
    assert past["items"] == [] and past["page"] == 4
    assert [u["id"] for u in (await page(client, url, reverse="true", size=2))["items"]] == ["u6", "u5"]
    evens = await page(client, url, {"filter": {"even": True}})
    assert [u["id"] for u in evens["items"]] == ["u0", "u2", "u4", "u6"]
    assert (await page(client, url, {"filter": None}))["total"] == 7
    assert (await page(client, url, {"filter": {}}))["total"] == 7
    expect(await client.post(url, json={}, params={"size": 101}), 422)
    expect(await client.post(url, json={}, params={"page": 0}), 422)
    expect(await client.post(url, json={"filter": "nope"}), 422)


async def test_apps_list(client: httpx.AsyncClient, app_name: str) -> None:
    await new_app(client, app_name, metadata={"probe": app_name})
    found = await page(client, "/v1/apps/list", {"filter": {"probe": app_name}})
    assert [a["id"] for a in found["items"]] == [app_name]
    assert (await page(client, "/v1/apps/list", {"filter": {"probe": app_name}}, page=2))["items"] == []
