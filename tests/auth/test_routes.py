from sqlmodel import select

from app.auth.models import ApiKey
from app.auth.service import hash_secret


async def test_me_describes_owner_and_key(client, owner):
    response = await client.get("/v1/me", headers=owner.headers)
    assert response.status_code == 200
    me = response.json()
    assert me["owner_id"] == owner.owner_id
    assert me["email"] == owner.email
    assert me["scopes"] == ["read", "write"]
    read_only = (await client.get("/v1/me", headers=owner.read_headers)).json()
    assert read_only["scopes"] == ["read"]
    assert read_only["key_id"] != me["key_id"]


async def test_created_key_works_once_shown_and_is_stored_only_as_hash(client, owner, app):
    response = await client.post(
        "/v1/api-keys", json={"name": "crm sync", "scopes": ["read"]}, headers=owner.headers
    )
    assert response.status_code == 201
    created = response.json()
    secret = created["api_key"]
    assert response.headers["location"] == f"/v1/api-keys/{created['id']}"
    assert created["scopes"] == ["read"] and created["prefix"] == secret[:10]
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.json()["key_id"] == created["id"]
    listed = await client.get("/v1/api-keys", headers=owner.headers)
    assert secret not in listed.text
    assert "api_key" not in listed.json()["data"][0]
    one = await client.get(f"/v1/api-keys/{created['id']}", headers=owner.headers)
    assert secret not in one.text
    async with app.state.sessionmaker() as session:
        row = (await session.exec(select(ApiKey).where(ApiKey.id == created["id"]))).one()
    assert row.secret_hash == hash_secret(secret)
    assert secret not in str(row.model_dump())


async def test_key_scopes_default_to_read_and_write(client, owner):
    created = (
        await client.post("/v1/api-keys", json={"name": "full"}, headers=owner.headers)
    ).json()
    assert created["scopes"] == ["read", "write"]


async def test_revoked_key_is_refused_at_once(client, owner):
    created = (
        await client.post("/v1/api-keys", json={"name": "temp"}, headers=owner.headers)
    ).json()
    headers = {"Authorization": f"Bearer {created['api_key']}"}
    assert (await client.get("/v1/me", headers=headers)).status_code == 200  # now cached
    revoke = await client.delete(f"/v1/api-keys/{created['id']}", headers=owner.headers)
    assert revoke.status_code == 204
    refused = await client.get("/v1/me", headers=headers)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    listed = await client.get(f"/v1/api-keys/{created['id']}", headers=owner.headers)
    assert listed.json()["revoked_at"] is not None
    # Revoking again changes nothing and is not an error.
    again = await client.delete(f"/v1/api-keys/{created['id']}", headers=owner.headers)
    assert again.status_code == 204


async def test_a_key_may_revoke_itself(client, owner):
    me = (await client.get("/v1/me", headers=owner.headers)).json()
    response = await client.delete(f"/v1/api-keys/{me['key_id']}", headers=owner.headers)
    assert response.status_code == 204
    assert (await client.get("/v1/me", headers=owner.headers)).status_code == 401


async def test_keys_of_one_owner_do_not_open_another(client, owner, other_owner):
    mine = (await client.get("/v1/me", headers=owner.headers)).json()
    theirs = (await client.get("/v1/me", headers=other_owner.headers)).json()
    assert mine["owner_id"] != theirs["owner_id"]
    listed = await client.get("/v1/api-keys", headers=owner.headers)
    assert theirs["key_id"] not in {k["id"] for k in listed.json()["data"]}
