from tests.factories import create_contact


async def test_create_and_read_contact(client, owner):
    created = await create_contact(client, owner)
    response = await client.get(f"/v1/contacts/{created['id']}", headers=owner.headers)
    assert response.status_code == 200
    assert response.json() == created
