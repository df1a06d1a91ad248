"""Owners, keys and resources for tests, made through the real services and API."""

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import Connection, text

from app.auth import service as auth
from app.auth.schemas import Scope
from app.contacts.models import Contact
from app.core.types import new_id, utcnow
from app.core.unit_of_work import commit


@dataclass
class Actor:
    owner_id: str
    email: str
    api_key: str
    read_only_key: str
    headers: dict[str, str] = field(init=False)
    read_headers: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.headers = {"Authorization": f"Bearer {self.api_key}"}
        self.read_headers = {"Authorization": f"Bearer {self.read_only_key}"}


async def make_actor(app: FastAPI, label: str = "owner") -> Actor:
    email = f"{label}-{secrets.token_hex(4)}@example.com"
    async with app.state.sessionmaker() as session:
        owner = await auth.create_owner(session, email=email, name=label.title())
        rw = await auth.create_api_key(
            session, owner_id=owner.id, name="rw", scopes=[Scope.read, Scope.write]
        )
        ro = await auth.create_api_key(session, owner_id=owner.id, name="ro", scopes=[Scope.read])
        await commit(session)
    return Actor(owner.id, email, rw.api_key, ro.api_key)


def contact_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "display_name": "Ada Lovelace",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "organization": "Analytical Engines Ltd",
        "title": "Mathematician",
        "timezone": "Europe/London",
        "trust_stage": "known",
        "cadence_days": 30,
        "tags": ["math", "founders"],
        "notes": "Met at the Difference Engine demo.",
        "channels": [
            # An address of its own: another contact's address is a 409 (existing_id).
            {
                "type": "email",
                "value": f"ada.{secrets.token_hex(3)}@example.com",
                "permitted_uses": ["introductions"],
            },
            {"type": "phone", "value": "+44 20 7946 0000", "permitted_uses": ["personal"]},
        ],
        "external_refs": {"hubspot": f"hs-{secrets.token_hex(3)}"},
    }
    body.update(overrides)
    return body


async def create_contact(client: httpx.AsyncClient, actor: Actor, **overrides: Any) -> dict:
    response = await client.post(
        "/v1/contacts", json=contact_body(**overrides), headers=actor.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def create_pair(client: httpx.AsyncClient, actor: Actor) -> tuple[dict, dict]:
    requester = await create_contact(
        client,
        actor,
        display_name="Rita Requester",
        given_name="Rita",
        family_name="Requester",
        external_refs={},
    )
    target = await create_contact(
        client,
        actor,
        display_name="Theo Target",
        given_name="Theo",
        family_name="Target",
        external_refs={},
    )
    return requester, target


def introduction_body(requester_id: str, target_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "requester_id": requester_id,
        "target_id": target_id,
        "reason": "Rita is raising a seed round for a climate startup.",
        "benefit_to_target": "Theo invests in climate; this is an early look at a strong team.",
        "offer": "Rita will share her market research.",
    }
    body.update(overrides)
    return body


async def create_introduction(
    client: httpx.AsyncClient, actor: Actor, requester_id: str, target_id: str, **overrides: Any
) -> dict:
    response = await client.post(
        "/v1/introductions",
        json=introduction_body(requester_id, target_id, **overrides),
        headers=actor.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


def contact_row(owner_id: str, **values: Any) -> dict[str, Any]:
    """A row of `contact` to write straight to the table, for tests that seed many contacts
    or a database at an older revision: the columns that have no default, then `values`
    (`updated_at` is `created_at` unless given)."""
    created_at = values.get("created_at") or utcnow()
    return {
        "owner_id": owner_id,
        "id": new_id("ct"),
        "display_name": "x",
        "trust_stage": "known",
        "tags": [],
        "channels": [],
        "external_refs": {},
        "search_text": "x",
        "channel_uses": ",",
        "version": 1,
        "created_at": created_at,
        "updated_at": created_at,
        **values,
    }


def seed_texts(conn: Connection, texts: dict[str, str], at: datetime) -> None:
    """Owner `own_1` and, for each id of `texts`, a contact with that `search_text`, written
    straight to the tables of a database at an older revision (the migration tests)."""
    conn.execute(
        text("INSERT INTO owner (id, email, name, created_at) VALUES ('own_1', 'o', 'O', :at)"),
        {"at": at},
    )
    for contact_id, folded in texts.items():
        conn.execute(
            Contact.__table__.insert(),  # type: ignore[attr-defined]
            contact_row("own_1", id=contact_id, search_text=folded, created_at=at),
        )
