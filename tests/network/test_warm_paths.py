"""GET /v1/warm-paths: who could introduce the owner to a contact or an organisation."""

from app.network import warm_paths as service
from tests.factories import create_contact
from tests.network.graph import archive, give, knows, person, warm_paths


async def _network(client, owner):
    """Theo, the target, and everyone around him:

    Dana -1- Theo (strength 5; the owner gave Dana 7, so an ask of weight 1 is fair)
    Eli  -1- Theo (5; the owner called Eli)      Bea -1- Theo (5; never touched)
    Mia  -1- Theo (4)                            Al  -1- Theo (2)
    Cy   -2- Mia -1- Theo (Cy-Mia 3: the weakest link is 3)
    """
    ids = {
        name: await person(client, owner, name) for name in "Theo Dana Eli Bea Mia Al Cy".split()
    }
    theo = ids["Theo"]
    for name, strength in (("Dana", 5), ("Eli", 5), ("Bea", 5), ("Mia", 4), ("Al", 2)):
        await knows(client, owner, ids[name], theo, strength)
    await knows(client, owner, ids["Cy"], ids["Mia"], 3)
    await give(client, owner, ids["Dana"], 5)
    await give(client, owner, ids["Dana"], 2)
    call = await client.post(
        f"/v1/contacts/{ids['Eli']}/interactions", json={"kind": "call"}, headers=owner.headers
    )
    assert call.status_code == 201, call.text
    return ids


async def test_introducers_you_can_ask_come_first_then_hops_strength_and_touch(client, owner):
    ids = await _network(client, owner)
    paths = await warm_paths(client, owner, target_id=ids["Theo"], ask_weight=1)
    names = {v: k for k, v in ids.items()}
    assert [names[p["introducer"]["id"]] for p in paths] == [
        "Dana",
        "Eli",
        "Bea",
        "Mia",
        "Al",
        "Cy",
    ]
    dana, eli, bea, _, _, cy = paths
    assert dana["can_ask"] and dana["deposits_needed"] == 0
    assert not any(p["can_ask"] for p in paths[1:])
    assert eli["last_interaction_at"] is not None and bea["last_interaction_at"] is None
    assert [p["hops"] for p in paths] == [1, 1, 1, 1, 1, 2]
    assert [p["strength"] for p in paths] == [5, 5, 5, 4, 2, 3]
    assert dana["path"] == [ids["Dana"], ids["Theo"]]
    assert cy["path"] == [ids["Cy"], ids["Mia"], ids["Theo"]]
    assert cy["introducer"] == {"id": ids["Cy"], "display_name": "Cy"}
    assert cy["target"] == {"id": ids["Theo"], "display_name": "Theo"}
    assert "Mia" in cy["reason"] and "Theo" in cy["reason"]
    # contact_body's email channel permits introductions.
    assert all(p["permits_introductions"] for p in paths)


async def test_max_hops_1_leaves_out_two_hop_paths(client, owner):
    ids = await _network(client, owner)
    paths = await warm_paths(client, owner, target_id=ids["Theo"], max_hops=1)
    assert {p["hops"] for p in paths} == {1}
    assert ids["Cy"] not in {p["introducer"]["id"] for p in paths}
    assert len(paths) == 5


async def test_strength_is_the_weakest_link_and_each_introducer_has_its_best_path(client, owner):
    target, middle, weak, strong = [
        await person(client, owner, name) for name in ("Theo", "Mia", "Wes", "Sam")
    ]
    await knows(client, owner, middle, target, 2)
    await knows(client, owner, strong, middle, 5)
    await knows(client, owner, weak, middle, 1)
    # Wes also knows Theo directly, weakly: one hop beats a stronger two.
    await knows(client, owner, weak, target, 1)
    # Sam knows Theo through Mia (5, 2) and through Pat (4, 4): the stronger path.
    pat = await person(client, owner, "Pat")
    await knows(client, owner, strong, pat, 4)
    await knows(client, owner, pat, target, 4)
    paths = {p["introducer"]["id"]: p for p in await warm_paths(client, owner, target_id=target)}
    assert paths[strong]["hops"] == 2 and paths[strong]["strength"] == 4
    assert paths[strong]["path"] == [strong, pat, target]
    assert paths[weak]["hops"] == 1 and paths[weak]["strength"] == 1
    assert paths[weak]["path"] == [weak, target]
    assert paths[middle]["strength"] == 2


async def test_two_kinds_of_one_pair_count_as_its_strongest_link(client, owner):
    target, friend = await person(client, owner, "Theo"), await person(client, owner, "Fay")
    await knows(client, owner, friend, target, 2, kind="friend")
    await knows(client, owner, friend, target, 4, kind="colleague")
    (path,) = await warm_paths(client, owner, target_id=target)
    assert path["strength"] == 4


async def test_deposits_needed_agrees_with_reciprocity(client, owner):
    ids = await _network(client, owner)
    await give(client, owner, ids["Eli"], 3)
    await client.post(
        "/v1/ledger",
        json={"contact_id": ids["Al"], "direction": "received", "kind": "advice", "weight": 2},
        headers=owner.headers,
    )
    for ask_weight in (1, 3, 5):
        paths = await warm_paths(client, owner, target_id=ids["Theo"], ask_weight=ask_weight)
        assert len(paths) == 6
        for path in paths:
            answer = await client.get(
                f"/v1/contacts/{path['introducer']['id']}/reciprocity",
                params={"ask_weight": ask_weight},
                headers=owner.headers,
            )
            reciprocity = answer.json()
            assert path["can_ask"] == reciprocity["can_ask"]
            assert path["deposits_needed"] == reciprocity["deposits_needed"]
    # The owner's ratio counts too.
    await client.patch("/v1/settings", json={"reciprocity_ratio": 2}, headers=owner.headers)
    paths = await warm_paths(client, owner, target_id=ids["Theo"], ask_weight=3)
    eli = next(p for p in paths if p["introducer"]["id"] == ids["Eli"])
    assert eli["deposits_needed"] == 3  # 2 x 3 - 3


async def test_archived_contacts_are_never_on_a_path(client, owner):
    ids = await _network(client, owner)
    await archive(client, owner, ids["Mia"])
    await archive(client, owner, ids["Dana"])
    paths = await warm_paths(client, owner, target_id=ids["Theo"])
    seen = {contact for p in paths for contact in p["path"]}
    assert ids["Mia"] not in seen and ids["Dana"] not in seen
    # Cy knew Theo only through Mia.
    assert ids["Cy"] not in seen
    assert len(paths) == 3


async def test_an_archived_target_has_no_paths_and_an_erased_one_is_404(client, owner):
    ids = await _network(client, owner)
    await archive(client, owner, ids["Theo"])
    assert await warm_paths(client, owner, target_id=ids["Theo"]) == []
    erased = await client.delete(
        f"/v1/contacts/{ids['Theo']}", params={"erase": "true"}, headers=owner.headers
    )
    assert erased.status_code == 204, erased.text
    response = await client.get(
        "/v1/warm-paths", params={"target_id": ids["Theo"]}, headers=owner.headers
    )
    assert response.status_code == 404


async def test_introducers_without_an_introductions_channel_say_so(client, owner):
    target = await person(client, owner, "Theo")
    quiet = await person(
        client,
        owner,
        "Quinn",
        channels=[{"type": "email", "value": "quinn@example.com", "permitted_uses": ["personal"]}],
    )
    await knows(client, owner, quiet, target)
    (path,) = await warm_paths(client, owner, target_id=target)
    assert path["permits_introductions"] is False


async def test_everyone_at_an_organisation_is_a_target_and_none_an_introducer(client, owner):
    ann = await person(client, owner, "Ann", organization="Acme Corp")
    ben = await person(client, owner, "Ben", organization="ACMÉ CORP")
    insider = await person(client, owner, "Ivy", organization="acme corp")
    other = await person(client, owner, "Olga", organization="Acme Corporation")
    friend = await person(client, owner, "Fred", organization=None)
    far = await person(client, owner, "Gus", organization=None)
    await knows(client, owner, friend, ann, 2)
    await knows(client, owner, friend, ben, 4)
    await knows(client, owner, insider, ann, 5)
    await knows(client, owner, other, ann, 3)
    await knows(client, owner, far, other, 5)
    paths = await warm_paths(client, owner, organization="acme corp")
    by_introducer = {p["introducer"]["id"]: p for p in paths}
    # Ivy works there: a target, never a way in.
    assert insider not in by_introducer
    assert by_introducer[friend]["target"]["id"] == ben
    assert by_introducer[friend]["strength"] == 4
    assert by_introducer[other]["path"] == [other, ann]
    assert by_introducer[far]["path"] == [far, other, ann]
    assert set(by_introducer) == {friend, other, far}
    assert await warm_paths(client, owner, organization="Nobody Ltd") == []


async def test_an_unknown_or_another_owners_target_is_404(client, owner, other_owner):
    theirs = await person(client, other_owner, "Theo")
    for target in (theirs, "ct_00000000000000000000000000"):
        response = await client.get(
            "/v1/warm-paths", params={"target_id": target}, headers=owner.headers
        )
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


async def test_another_owners_contacts_are_never_on_a_path(client, owner, other_owner):
    mine = await person(client, owner, "Theo")
    friend = await person(client, owner, "Fay")
    await knows(client, owner, friend, mine)
    # The other owner's network, with ids that cannot be mine.
    a, b = await person(client, other_owner, "Ann"), await person(client, other_owner, "Bo")
    await knows(client, other_owner, a, b)
    paths = await warm_paths(client, owner, target_id=mine)
    assert [p["path"] for p in paths] == [[friend, mine]]
    their_paths = await warm_paths(client, other_owner, target_id=a)
    assert [p["path"] for p in their_paths] == [[b, a]]


async def test_bad_parameters_are_422(client, owner):
    target = await create_contact(client, owner, external_refs={})
    cases = [
        ({}, {"target_id", "organization"}),
        ({"target_id": target["id"], "organization": "Acme"}, {"target_id", "organization"}),
        ({"target_id": target["id"], "max_hops": 3}, {"max_hops"}),
        ({"target_id": target["id"], "max_hops": 0}, {"max_hops"}),
        ({"target_id": target["id"], "ask_weight": 0}, {"ask_weight"}),
        ({"target_id": target["id"], "ask_weight": 6}, {"ask_weight"}),
        ({"target_id": target["id"], "limit": 101}, {"limit"}),
        ({"organization": ""}, {"organization"}),
    ]
    for params, fields in cases:
        response = await client.get("/v1/warm-paths", params=params, headers=owner.headers)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert {e["field"] for e in response.json()["errors"]} == fields, params


async def test_limit_keeps_the_best(client, owner):
    ids = await _network(client, owner)
    paths = await warm_paths(client, owner, target_id=ids["Theo"], ask_weight=1, limit=2)
    assert [p["introducer"]["id"] for p in paths] == [ids["Dana"], ids["Eli"]]


async def test_the_fan_out_is_bounded_as_documented(client, owner, monkeypatch):
    """Two-hop paths go through the targets' strongest neighbours only (MAX_MIDDLES), and
    not at all once the neighbours alone fill the candidates weighed (MAX_CANDIDATES)."""
    target, strong, weak = [await person(client, owner, n) for n in ("Theo", "Sam", "Wes")]
    via_strong, via_weak = await person(client, owner, "Xia"), await person(client, owner, "Yan")
    await knows(client, owner, strong, target, 5)
    await knows(client, owner, weak, target, 2)
    await knows(client, owner, via_strong, strong, 4)
    await knows(client, owner, via_weak, weak, 5)
    everyone = {p["introducer"]["id"] for p in await warm_paths(client, owner, target_id=target)}
    assert everyone == {strong, weak, via_strong, via_weak}
    monkeypatch.setattr(service, "MAX_MIDDLES", 1)
    paths = await warm_paths(client, owner, target_id=target)
    assert [p["introducer"]["id"] for p in paths] == [strong, weak, via_strong]
    monkeypatch.setattr(service, "MAX_CANDIDATES", 2)
    paths = await warm_paths(client, owner, target_id=target)
    assert [p["introducer"]["id"] for p in paths] == [strong, weak]


async def test_every_kind_of_write_shows_on_the_next_read(client, owner):
    """Paths are kept by each worker while the owner's data is unchanged (app/network/kept.py):
    a relationship, a gift, an interaction, a rename, an archive and a settings change each
    show on the very next read."""
    ids = await _network(client, owner)
    theo, names = ids["Theo"], {v: k for k, v in ids.items()}

    async def introducers():
        paths = await warm_paths(client, owner, target_id=theo, ask_weight=1)
        return [names.get(p["introducer"]["id"], p["introducer"]["display_name"]) for p in paths]

    assert await introducers() == ["Dana", "Eli", "Bea", "Mia", "Al", "Cy"]
    ida = await person(client, owner, "Ida")
    await knows(client, owner, ida, theo, 1)
    assert (await introducers())[-2:] == ["Ida", "Cy"]  # one hop before two
    await give(client, owner, ids["Al"], 5)
    await give(client, owner, ids["Al"], 2)  # Al can be asked now
    assert (await introducers())[:2] == ["Dana", "Al"]
    call = await client.post(
        f"/v1/contacts/{ids['Bea']}/interactions", json={"kind": "call"}, headers=owner.headers
    )
    assert call.status_code == 201, call.text
    paths = await warm_paths(client, owner, target_id=theo, ask_weight=1)
    assert next(p for p in paths if p["introducer"]["id"] == ids["Bea"])["last_interaction_at"]
    renamed = await client.patch(
        f"/v1/contacts/{ids['Mia']}", json={"display_name": "Mia R."}, headers=owner.headers
    )
    assert renamed.status_code == 200, renamed.text
    paths = await warm_paths(client, owner, target_id=theo, ask_weight=1)
    assert "Mia R." in {p["introducer"]["display_name"] for p in paths}
    await archive(client, owner, ids["Dana"])
    assert "Dana" not in await introducers()
    await give(client, owner, ids["Eli"], 1)  # not enough at the default ratio of 7

    async def eli_can_ask():
        paths = await warm_paths(client, owner, target_id=theo, ask_weight=1)
        return next(p for p in paths if p["introducer"]["id"] == ids["Eli"])["can_ask"]

    assert not await eli_can_ask()
    ratio = await client.patch("/v1/settings", json={"reciprocity_ratio": 1}, headers=owner.headers)
    assert ratio.status_code == 200, ratio.text
    assert await eli_can_ask()
