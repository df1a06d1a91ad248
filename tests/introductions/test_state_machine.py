"""Random sequences of API calls against the real app, checking after every step that:
no introduction is made without a prior consent, ended introductions never change (but a
completed one may take the other side's feedback), each made introduction wrote exactly
one deposit for its requester, and a consent link replaced by a reissue never answers."""

import asyncio
import re
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule
from sqlalchemy import update

from app.core.unit_of_work import commit
from app.introductions.models import Introduction
from tests.factories import create_contact, introduction_body

ENDED = {"completed", "declined", "withdrawn", "expired"}
# What the other side's feedback may still change on a completed introduction.
FEEDBACK_FIELDS = {"feedback", "follow_up_due_from", "needs_follow_up", "flags"}


async def test_introductions_keep_their_invariants(client, owner, app):
    loop = asyncio.get_running_loop()

    def run(coro):
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)

    def call(method, url, **kwargs):
        return run(client.request(method, url, headers=owner.headers, **kwargs))

    async def expire_now(intro_id):
        async with app.state.sessionmaker() as session:
            await session.exec(
                update(Introduction)
                .where(
                    Introduction.owner_id == owner.owner_id,
                    Introduction.id == intro_id,
                    Introduction.state == "awaiting_consent",
                )
                .values(consent_expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
            await commit(session)

    async def a_day_passes(intro_id):
        async with app.state.sessionmaker() as session:
            await session.exec(
                update(Introduction)
                .where(
                    Introduction.owner_id == owner.owner_id,
                    Introduction.id == intro_id,
                    Introduction.state == "awaiting_consent",
                )
                .values(consent_requested_at=datetime.now(UTC) - timedelta(hours=25))
            )
            await commit(session)

    async def page_answer(path, decision):
        page = await client.get(path)
        if page.status_code != 200:
            return page
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        return await client.post(path, data={"decision": decision, "csrf": csrf})

    class Introductions(RuleBasedStateMachine):
        intros = Bundle("intros")

        def __init__(self):
            super().__init__()
            # Fresh people for every run: the database is shared by all of hypothesis' runs.
            self.people = [
                run(create_contact(client, owner, display_name=f"P{n}", external_refs={}))["id"]
                for n in range(4)
            ]
            self.links: dict[str, str] = {}
            self.replaced: set[str] = set()  # links a reissue replaced
            self.ended: dict[str, dict] = {}  # the first view of each ended introduction
            self.known: set[str] = set()

        @rule(target=intros, pair=st.permutations(range(4)).map(lambda p: p[:2]))
        def create(self, pair):
            body = introduction_body(self.people[pair[0]], self.people[pair[1]])
            response = call("POST", "/v1/introductions", json=body)
            if response.status_code == 201:
                self.known.add(response.json()["id"])
                return response.json()["id"]
            assert response.status_code == 409, response.text  # pair open, or cooldown
            return min(self.known) if self.known else "intro_missing"

        @rule(intro=intros, a_day_later=st.booleans())
        def request_consent(self, intro, a_day_later):
            if a_day_later and intro in self.known:  # a reissue is allowed once a day
                run(a_day_passes(intro))
            response = call("POST", f"/v1/introductions/{intro}/consent-request", json={})
            assert response.status_code in (200, 404, 409), response.text
            if response.status_code == 200:
                if intro in self.links:  # reissued: the old link is gone at once
                    self.replaced.add(self.links[intro])
                    assert run(client.get(self.links[intro])).status_code == 410
                self.links[intro] = response.json()["consent_url"].removeprefix("http://test")

        @rule(intro=intros, decision=st.sampled_from(["accept", "decline"]))
        def owner_records_answer(self, intro, decision):
            response = call(
                "POST",
                f"/v1/introductions/{intro}/consent",
                json={"decision": decision, "evidence": "phone"},
            )
            assert response.status_code in (200, 404, 409), response.text

        @rule(intro=intros, decision=st.sampled_from(["accept", "decline"]))
        def target_answers_on_the_page(self, intro, decision):
            if intro in self.links:
                response = run(page_answer(self.links[intro], decision))
                assert response.status_code in (200, 410), response.text

        @rule(intro=intros)
        def make(self, intro):
            response = call("POST", f"/v1/introductions/{intro}/make", json={})
            assert response.status_code in (200, 404, 409), response.text

        @rule(
            intro=intros,
            side=st.sampled_from(["requester", "target"]),
            outcome=st.sampled_from(["connected", "not_contacted", "not_useful", "valuable"]),
        )
        def feedback(self, intro, side, outcome):
            response = call(
                "POST",
                f"/v1/introductions/{intro}/feedback",
                json={"from": side, "outcome": outcome},
            )
            assert response.status_code in (200, 404, 409), response.text

        @rule(intro=intros)
        def withdraw(self, intro):
            response = call("POST", f"/v1/introductions/{intro}/withdraw", json={})
            assert response.status_code in (200, 404, 409), response.text

        @rule(decision=st.sampled_from(["accept", "decline"]))
        def target_answers_on_a_replaced_link(self, decision):
            for path in self.replaced:
                assert run(page_answer(path, decision)).status_code == 410

        @rule(intro=intros)
        def time_passes_past_the_link(self, intro):
            if intro in self.known:
                run(expire_now(intro))

        @invariant()
        def replaced_links_stay_gone(self):
            for path in self.replaced:
                assert run(client.get(path)).status_code == 410

        @invariant()
        def introductions_keep_their_promises(self):
            for intro_id in self.known:
                intro = call("GET", f"/v1/introductions/{intro_id}").json()
                timeline = call(
                    "GET", f"/v1/introductions/{intro_id}/events", params={"limit": 200}
                ).json()["data"]
                states = [e["to_state"] for e in timeline]
                if "made" in states:
                    assert "consented" in states[: states.index("made")], timeline
                if intro["state"] in ENDED:
                    first = self.ended.setdefault(intro_id, intro)
                    assert intro["state"] == first["state"]
                    assert intro["ended_at"] == first["ended_at"]
                    if intro["state"] != "completed":
                        assert intro == first
                    else:  # only the other side's feedback may still arrive
                        kept = FEEDBACK_FIELDS | {"version", "updated_at"}
                        same = {k: v for k, v in intro.items() if k not in kept}
                        assert same == {k: v for k, v in first.items() if k not in kept}
                deposits = [
                    e
                    for e in call(
                        "GET",
                        "/v1/ledger",
                        params={"contact_id": intro["requester_id"], "limit": 200},
                    ).json()["data"]
                    if e["introduction_id"] == intro_id
                ]
                assert len(deposits) == (1 if intro["made_at"] else 0), deposits

    Introductions.TestCase.settings = settings(
        max_examples=25,
        stateful_step_count=15,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    await asyncio.to_thread(Introductions.TestCase().runTest)
