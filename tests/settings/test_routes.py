async def test_settings_start_at_the_defaults(client, owner):
    response = await client.get("/v1/settings", headers=owner.headers)
    assert response.status_code == 200
    body = response.json()
    assert {k: v for k, v in body.items() if k != "updated_at"} == {
        "reciprocity_ratio": 7,
        "consent_ttl_days": 14,
        "decline_cooldown_days": 90,
        "max_pending_consents_per_target": 3,
        "follow_up_after_days": 14,
        "thanks_window_days": 7,
        "timezone": "UTC",
    }
    assert response.headers["etag"]


async def test_patch_changes_only_the_rules_sent(client, owner):
    etag = (await client.get("/v1/settings", headers=owner.headers)).headers["etag"]
    response = await client.patch(
        "/v1/settings", json={"reciprocity_ratio": 5}, headers={**owner.headers, "If-Match": etag}
    )
    assert response.status_code == 200
    assert response.json()["reciprocity_ratio"] == 5
    assert response.json()["consent_ttl_days"] == 14
    assert response.headers["etag"] != etag
    stale = await client.patch(
        "/v1/settings", json={"reciprocity_ratio": 9}, headers={**owner.headers, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert (await client.get("/v1/settings", headers=owner.headers)).json()[
        "reciprocity_ratio"
    ] == 5


async def test_invalid_rules_are_refused(client, owner):
    for body, field in [
        ({"reciprocity_ratio": 0}, "reciprocity_ratio"),
        ({"consent_ttl_days": None}, "consent_ttl_days"),
        ({"max_pending_consents_per_target": "many"}, "max_pending_consents_per_target"),
        ({"colour": "blue"}, "colour"),
    ]:
        response = await client.patch("/v1/settings", json=body, headers=owner.headers)
        assert response.status_code == 422, body
        assert response.json()["errors"][0]["field"] == field


async def test_settings_belong_to_one_owner(client, owner, other_owner):
    await client.patch("/v1/settings", json={"reciprocity_ratio": 2}, headers=owner.headers)
    theirs = await client.get("/v1/settings", headers=other_owner.headers)
    assert theirs.json()["reciprocity_ratio"] == 7


async def test_the_agendas_thanks_window_and_time_zone_are_set_and_checked(client, owner):
    read = await client.get("/v1/settings", headers=owner.headers)
    etag = read.headers["etag"]
    response = await client.patch(
        "/v1/settings",
        json={"thanks_window_days": 30, "timezone": "Pacific/Auckland"},
        headers={**owner.headers, "If-Match": etag},
    )
    assert response.status_code == 200, response.text
    assert response.json()["thanks_window_days"] == 30
    assert response.json()["timezone"] == "Pacific/Auckland"
    assert response.json()["reciprocity_ratio"] == 7
    assert response.headers["etag"] != etag
    for body, field in [
        ({"thanks_window_days": 0}, "thanks_window_days"),
        ({"thanks_window_days": 366}, "thanks_window_days"),
        ({"thanks_window_days": "7"}, "thanks_window_days"),
        ({"thanks_window_days": None}, "thanks_window_days"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "+02:00"}, "timezone"),
        ({"timezone": "europe/london"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"timezone": None}, "timezone"),
        ({"timezone": 2}, "timezone"),
    ]:
        refused = await client.patch("/v1/settings", json=body, headers=owner.headers)
        assert refused.status_code == 422, body
        assert [e["field"] for e in refused.json()["errors"]] == [field], body
    for days in (1, 365):
        edge = await client.patch(
            "/v1/settings", json={"thanks_window_days": days}, headers=owner.headers
        )
        assert edge.status_code == 200
        assert edge.json()["thanks_window_days"] == days
    current = (await client.get("/v1/settings", headers=owner.headers)).json()
    assert current["thanks_window_days"] == 365
    assert current["timezone"] == "Pacific/Auckland"
    assert current["updated_at"] is not None
