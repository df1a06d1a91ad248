"""A realistic network for `make bench`, generated in Python and loaded in bulk.

One large owner (100,000 contacts, 1,000,000 ledger entries with a long tail, 200,000
interactions, 20,000 introductions in every state, 20,000 reminders, 500,000 relationships,
needs and offers on a tenth of the contacts) and 1,000 small ones, loaded into PostgreSQL
with COPY (asyncpg `copy_records_to_table`), or a smaller network into an SQLite file.

Every row is what the app itself would have written: the contacts' derived columns
(`search_text`, `channel_uses`, `due_at`) come from the app's own `_derive`; the ledger
totals on each contact are the sums of its entries; `last_interaction_at`, `version` and
`updated_at` follow its interactions as `touch_interaction` moves them; tags and external
refs are mirrored in their side tables; some names are accented (Müller, Jürgen) and a
phone number is shared by a few contacts, for the search rows; an introduction carries the
fields and timeline its state implies, and a made one its deposit for the requester (kind
`introduction`); every owner has its settings row and a read-write key. Events (the
outbox) are not seeded: no endpoint measured reads them.

For the agenda (issue 16): most contacts have a cadence, so thousands of touches are due;
reminders are spread over the 60 days before and after now, a fifth of the past ones done;
the large owner lives in Europe/Berlin and has dismissed and snoozed items, most of them
long gone from the agenda (the ids pile up). For warm paths and suggestions (issue 17):
relationships between the large owner's contacts with a long-tailed degree distribution
(most contacts know a few others, a few hubs know hundreds), stored once a pair in id
order, an `introduced` one for every made introduction; needs and offers written as a
person types them, drawn from one vocabulary of about 200 phrases so that needs meet
offers, with their folded `contact_phrase` rows.
"""

import itertools
import random
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import asyncpg
import orjson
from sqlalchemy import create_engine as create_sync_engine
from ulid import ULID

from app.agenda.items import for_owner, item_id
from app.agenda.schemas import AgendaKind
from app.auth.service import KEY_PREFIX, hash_secret
from app.contacts.identifiers import channel_keys
from app.contacts.models import fold_phrase
from app.contacts.search import fold, tokens
from app.contacts.service import _derive
from app.core.types import new_id
from app.models import metadata
from app.relationships.models import KINDS as RELATIONSHIP_KINDS
from app.relationships.service import INTRODUCED_STRENGTH
from app.settings.schemas import DEFAULTS

FIRST = (
    "ada alan barbara claude donald edsger frances grace hedy ivan john katherine leslie "
    "margaret niklaus ole peter radia rosalind shafi tim vint whitfield yukihiro zhang "
    "amara bongani chidi dalia emeka farah goran hana ines jonas kemal lucia mateo nadia "
    "oskar priya quentin rania sven tariq ursula vera wen xenia yara zoltan "
    "jürgen zoë andré josé françoise björn"
).split()
LAST = (
    "lovelace turing liskov shannon knuth dijkstra allen hopper lamarr sutherland mccarthy "
    "johnson lamport hamilton wirth dahl naur perlman franklin goldwasser berners-lee cerf "
    "diffie matsumoto okafor mensah novak petrov rossi schmidt tanaka nguyen kowalski "
    "andersen haddad ibrahim jensen kaur larsen moreau nakamura oliveira popescu quispe "
    "rahman silva torres ueda varga weber xu yilmaz zapata "
    "müller núñez dvořák gödel šimić"
).split()
ORGS = (
    "Acme Analytical Engines Bletchley Labs Calculon Data Difference Works Eniac Systems "
    "Fortran Foundry Gödel Escher Holdings Hollerith Tabulating Infinite Loop Jacquard Looms "
    "Kernel Cooperative Lambda Partners Monad Ventures Nibble Networks Octal Industries "
    "Pascal Capital Quine Quarterly Recursion Ltd Semaphore Health Turing Trust Unix Guild "
    "Vector Vision Widget Works Xerox Alto Yacc Brothers Zuse Instruments"
).split(" ")
ORGS = [" ".join(ORGS[i : i + 2]) for i in range(0, len(ORGS) - 1, 2)]
TITLES = ("Founder", "CTO", "Engineer", "Designer", "Investor", "Professor", "Recruiter", None)
ZONES = ("Europe/Berlin", "Europe/London", "America/New_York", "Asia/Tokyo", "Africa/Lagos", None)
TAGS = [f"tag-{name}" for name in "ai fintech climate health founders investors alumni".split()]
TAGS += [f"{kind}-{n}" for kind in ("event", "cohort", "city") for n in range(10)]
STAGES = ("stranger", "acquaintance", "acquaintance", "known", "known", "liked", "trusted")
CADENCES = (None, None, 14, 30, 90, 180, 365)
USES = ("personal", "introductions", "marketing")
ENTRY_KINDS = ("introduction", "referral", "advice", "endorsement", "share", "thanks", "favor")
MEETING_KINDS = ("meeting", "call", "message", "coffee", "event", "other")
# Needs and offers: 50 fields x 4 forms = 200 phrases, more popular ones first.
FIELDS = (
    "fintech climate health ai robotics biotech edtech insurtech proptech legal "
    "marketplace saas security payments crypto gaming media retail logistics energy "
    "mobility agritech foodtech hr analytics devtools hardware space quantum ecommerce "
    "travel music fashion sports nonprofit govtech cleantech water housing telecom "
    "semiconductors batteries wellness elder-care childcare construction manufacturing "
    "mining shipping"
).split()
PHRASES = [
    form.format(f)
    for f in FIELDS
    for form in ("{} investors", "{} advice", "a {} cofounder", "{} customers")
]
REMINDER_NOTES = (
    "Call after the launch.",
    "Ask how the new job is going.",
    "Send the article we talked about.",
    "Congratulate on the funding round.",
    None,
    None,
)

CONTACT_COLUMNS = (
    "owner_id id display_name given_name family_name organization title timezone trust_stage "
    "cadence_days notes tags channels external_refs needs offers search_text channel_uses "
    "connected_at last_interaction_at due_at ledger_deposits ledger_withdrawals version "
    "created_at updated_at archived_at erased_at"
).split()
LEDGER_COLUMNS = (
    "owner_id id contact_id direction kind weight occurred_at note reverses_id created_at "
    "introduction_id"
).split()
INTERACTION_COLUMNS = (
    "owner_id id contact_id kind occurred_at summary initiated_by created_at"
).split()
OWNER_COLUMNS = ["id", "email", "name", "created_at"]
SETTINGS_COLUMNS = ["owner_id", *DEFAULTS, "version", "updated_at"]
KEY_COLUMNS = "id owner_id name secret_hash prefix scopes created_at revoked_at".split()
EVENT_COLUMNS = "id owner_id type resource resource_id contact_id occurred_at data".split()
REMINDER_COLUMNS = (
    "owner_id id contact_id due_at note done_at version created_at updated_at"
).split()
RELATIONSHIP_COLUMNS = (
    "owner_id id contact_a_id contact_b_id kind strength note version created_at updated_at"
).split()
ITEM_STATE_COLUMNS = ["owner_id", "item_id", "until", "created_at"]
INTRODUCTION_COLUMNS = (
    "owner_id id requester_id target_id state reason benefit_to_target offer "
    "consent_token_hash consent_requested_at consent_expires_at decided_via decided_at "
    "evidence target_message made_at requester_outcome requester_feedback_at target_outcome "
    "target_feedback_at ended_at version created_at updated_at"
).split()
TIMELINE_COLUMNS = (
    "owner_id id introduction_id occurred_at actor action from_state to_state note data"
).split()
JSON_COLUMNS = {"tags", "channels", "external_refs", "needs", "offers", "scopes", "data"}
# The share of introductions in each state, and the timeline (action, state after, actor)
# that leads there from `requested`.
INTRODUCTION_STATES = {
    "requested": (0.15, []),
    "awaiting_consent": (0.15, [("request_consent", "awaiting_consent", "owner")]),
    "consented": (
        0.10,
        [("request_consent", "awaiting_consent", "owner"), ("accept", "consented", "target")],
    ),
    "made": (
        0.20,
        [
            ("request_consent", "awaiting_consent", "owner"),
            ("accept", "consented", "target"),
            ("make", "made", "owner"),
        ],
    ),
    "completed": (
        0.20,
        [
            ("request_consent", "awaiting_consent", "owner"),
            ("accept", "consented", "target"),
            ("make", "made", "owner"),
            ("feedback", "completed", "owner"),
        ],
    ),
    "declined": (
        0.08,
        [("request_consent", "awaiting_consent", "owner"), ("decline", "declined", "target")],
    ),
    "withdrawn": (0.06, [("withdraw", "withdrawn", "owner")]),
    "expired": (
        0.06,
        [("request_consent", "awaiting_consent", "owner"), ("expire", "expired", "system")],
    ),
}


@dataclass(frozen=True)
class OwnerSpec:
    contacts: int
    ledger: int  # entries in all, the fixed ledgers below included
    interactions: int
    # Contacts whose ledgers have exactly these lengths (the reciprocity rows).
    fixed_ledgers: tuple[int, ...] = ()
    introductions: int = 0
    reminders: int = 0  # open and done, due within 60 days either side of now
    relationships: int = 0  # `introduced` ones (one a made introduction) included
    # Agenda items the owner dismissed or snoozed: a few on today's list, most long gone.
    hidden_items: int = 0
    timezone: str = DEFAULTS["timezone"]


@dataclass(frozen=True)
class NetworkSpec:
    large: OwnerSpec
    small_owners: int
    small: OwnerSpec


FULL = NetworkSpec(
    large=OwnerSpec(
        100_000,
        1_000_000,
        200_000,
        fixed_ledgers=(10, 10_000, 100_000),
        introductions=20_000,
        reminders=20_000,
        relationships=500_000,
        hidden_items=3_000,
        timezone="Europe/Berlin",
    ),
    small_owners=1_000,
    small=OwnerSpec(20, 50, 10, reminders=2, relationships=10),
)
QUICK = NetworkSpec(
    large=OwnerSpec(
        2_000,
        20_000,
        4_000,
        fixed_ledgers=(10, 1_000, 5_000),
        introductions=400,
        reminders=400,
        relationships=10_000,
        hidden_items=60,
        timezone="Europe/Berlin",
    ),
    small_owners=10,
    small=OwnerSpec(20, 50, 10, reminders=2, relationships=10),
)
SQLITE_FULL = NetworkSpec(
    large=OwnerSpec(
        10_000, 50_000, 20_000, reminders=2_000, relationships=50_000, hidden_items=300
    ),
    small_owners=0,
    small=FULL.small,
)
SQLITE_QUICK = NetworkSpec(
    large=OwnerSpec(500, 2_000, 500, reminders=100, relationships=2_500, hidden_items=10),
    small_owners=0,
    small=FULL.small,
)


@dataclass
class Person:
    """One contact while its owner's rows are generated."""

    id: str
    created_at: datetime
    deposits: int = 0
    withdrawals: int = 0
    interactions: int = 0
    last_interaction_at: datetime | None = None
    # As written by a person (cased, spaced as typed); matched folded.
    needs: list[str] = field(default_factory=list)
    offers: list[str] = field(default_factory=list)
    # Set by contact_rows: what the reminders and the hidden items follow.
    due_at: datetime | None = None
    archived: bool = False


@dataclass
class Owner:
    id: str
    api_key: str
    spec: OwnerSpec
    people: list[Person]
    # Ledger length -> contact id, for the contacts with a fixed ledger.
    fixed: dict[int, str] = field(default_factory=dict)
    # (introduction id, requester id, made at, weight) of the made ones: their deposits.
    deposits: list[tuple[str, str, datetime, int]] = field(default_factory=list)
    introductions: list[tuple] = field(default_factory=list)
    timeline: list[tuple] = field(default_factory=list)
    # What the seeded contacts look like, for the benchmark's requests.
    visible_ids: list[str] = field(default_factory=list)  # not archived, in id order
    family_names: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    # Accented family names as typed without their accents ("muller" for Müller), and phone
    # numbers as dialled at home ("(020) 7946-0100" for +44 20 7946 0100).
    unaccented_names: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    # (requester, target, introduction id, made at) of the made introductions: each an
    # `introduced` relationship, as making one adds.
    made_pairs: list[tuple[str, str, str, datetime]] = field(default_factory=list)
    relationships: list[tuple] = field(default_factory=list)
    # Contact id -> relationships, for the warm-path rows' well-connected targets.
    degree: dict[str, int] = field(default_factory=dict)


def _tail_picker(rng: random.Random, people: list[Person]) -> Any:
    """Picks contacts with a long tail: a few get thousands of rows, most a handful."""
    order = people[:]
    rng.shuffle(order)
    n = len(order)
    return lambda: order[int(n * rng.random() ** 2)]


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    return start + (end - start) * rng.random()


class Generator:
    def __init__(self, spec: NetworkSpec, seed: int = 20261122) -> None:
        self.spec = spec
        self.rng = random.Random(seed)
        # Draws for what issues 16 and 17 added, so that the rows before them stay the same.
        self.extra = random.Random(seed + 1)
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.owners = [self._owner(spec.large, "large")]
        self.owners += [self._owner(spec.small, f"small-{i}") for i in range(spec.small_owners)]

    @property
    def large(self) -> Owner:
        return self.owners[0]

    def _owner(self, spec: OwnerSpec, label: str) -> Owner:
        rng = self.rng
        start = self.now - timedelta(days=3 * 365)
        stamps = sorted(
            _between(rng, start, self.now - timedelta(days=1)) for _ in range(spec.contacts)
        )
        people = [
            Person(id="ct_" + str(ULID.from_datetime(at)).lower(), created_at=at) for at in stamps
        ]
        owner = Owner(
            id=new_id("own"),
            api_key=KEY_PREFIX + secrets.token_urlsafe(32),
            spec=spec,
            people=people,
        )
        chosen = rng.sample(range(len(people)), len(spec.fixed_ledgers))
        owner.fixed = {n: people[i].id for n, i in zip(spec.fixed_ledgers, chosen, strict=True)}
        if spec.introductions:
            self._introductions(owner)
        if spec.relationships:
            self._relationships(owner)
        self._needs_and_offers(owner)
        return owner

    def _relationships(self, owner: Owner) -> None:
        """Pairs drawn with a long tail on both ends (weights (rank + 10) ^ -0.6 over the
        shuffled contacts): with 100,000 contacts and 500,000 pairs the median contact knows
        about 7 others, one in a hundred more than 60, the largest hubs 900 or so. Each pair
        once, in id order (contact_a_id < contact_b_id); made introductions add theirs as
        `introduced` (strength and note as `add_introduced` writes them)."""
        rng = self.extra
        order = [p for p in owner.people]
        rng.shuffle(order)
        cum = list(itertools.accumulate((i + 10) ** -0.6 for i in range(len(order))))
        pairs: set[tuple[str, str]] = set()
        # Made introductions: (a, b) -> (introduction id, made at); the latest one's edge.
        introduced = {
            (min(r, t), max(r, t)): (intro_id, at) for r, t, intro_id, at in owner.made_pairs
        }
        n = len(order)
        wanted = min(max(0, owner.spec.relationships - len(introduced)), n * (n - 1) // 4)
        while len(pairs) < wanted:
            a, b = rng.choices(order, cum_weights=cum, k=2)
            if a is not b:
                pairs.add((a.id, b.id) if a.id < b.id else (b.id, a.id))
        by_id = {p.id: p for p in owner.people}
        kinds = [k for k in RELATIONSHIP_KINDS if k != "introduced"]
        strengths = (1, 2, 2, 3, 3, 3, 4, 4, 5)
        for a, b in sorted(pairs):
            start = max(by_id[a].created_at, by_id[b].created_at)
            at = _between(rng, start, self.now - timedelta(minutes=1))
            kind, strength = rng.choice(kinds), rng.choice(strengths)
            owner.relationships.append(
                (owner.id, new_id("rel"), a, b, kind, strength, None, 1, at, at)
            )
        for (a, b), (intro_id, at) in sorted(introduced.items()):
            note = f"Introduced by the owner (introduction {intro_id})."
            owner.relationships.append(
                (owner.id, new_id("rel"), a, b, "introduced", INTRODUCED_STRENGTH, note, 1, at, at)
            )
        for row in owner.relationships:
            for cid in row[2:4]:
                owner.degree[cid] = owner.degree.get(cid, 0) + 1

    def _needs_and_offers(self, owner: Owner) -> None:
        """A tenth of the contacts say what they need or offer, one to three phrases each,
        typed as people type (capitalised, stray spaces); popular phrases come up more, so
        needs meet offers."""
        rng = self.extra
        cum = list(itertools.accumulate(1 / (i + 5) for i in range(len(PHRASES))))
        for person in owner.people:
            if rng.random() >= 0.1:
                continue
            for lists in (person.needs, person.offers):
                chosen = set(rng.choices(PHRASES, cum_weights=cum, k=rng.choice((0, 1, 1, 2, 3))))
                lists.extend(_typed(rng, phrase) for phrase in sorted(chosen))

    def _introductions(self, owner: Owner) -> None:
        """Introductions in every state, each with the fields and the timeline its state
        implies; made ones leave a deposit (ledger_rows writes it). Pairs are distinct, so
        the one-open-introduction-per-pair rule holds; pending consents expire in the
        future, so no read has an expiry to apply."""
        rng = self.rng
        states = list(INTRODUCTION_STATES)
        weights = [INTRODUCTION_STATES[s][0] for s in states]
        pairs: set[tuple[str, str]] = set()
        ids = [p.id for p in owner.people]
        while len(pairs) < owner.spec.introductions:
            requester, target = rng.sample(ids, 2)
            pairs.add((requester, target))
        for requester, target in sorted(pairs):
            state = rng.choices(states, weights)[0]
            steps = INTRODUCTION_STATES[state][1]
            # A pending consent was asked for within its 14-day lifetime; an expired one
            # longer ago than that; others at any time in the last half year.
            if state == "awaiting_consent":
                created = self.now - timedelta(days=13) * rng.random() - timedelta(hours=1)
            elif state == "expired":
                created = self.now - timedelta(days=15 + 165 * rng.random())
            else:
                created = self.now - timedelta(days=180) * rng.random() - timedelta(hours=1)
            self._introduction(owner, requester, target, created, state, steps)

    def _introduction(
        self,
        owner: Owner,
        requester: str,
        target: str,
        created: datetime,
        state: str,
        steps: list[tuple[str, str, str]],
    ) -> None:
        rng = self.rng
        intro_id = "intro_" + str(ULID.from_datetime(created)).lower()
        row = dict.fromkeys(INTRODUCTION_COLUMNS)
        row.update(
            owner_id=owner.id, id=intro_id, requester_id=requester, target_id=target,
            state=state, reason="You both work on developer tools.",
            benefit_to_target="A warm lead for your seed round.", offer="A 30-minute call.",
            version=1 + len(steps), created_at=created,
        )  # fmt: skip
        at = created
        timeline = [("request", None, "requested", "owner", created)]
        previous = "requested"
        for action, after, actor in steps:
            if action == "expire":
                at = row["consent_expires_at"]
            else:
                at = min(at + timedelta(hours=1 + 48 * rng.random()), self.now)
            if action == "request_consent":
                row["consent_token_hash"] = hash_secret(secrets.token_urlsafe(32))
                row["consent_requested_at"] = at
                row["consent_expires_at"] = at + timedelta(days=DEFAULTS["consent_ttl_days"])
            elif action in ("accept", "decline"):
                row.update(decided_via="link", decided_at=at, target_message="Happy to talk.")
            elif action == "make":
                row["made_at"] = at
                owner.made_pairs.append((requester, target, intro_id, at))
                owner.deposits.append((intro_id, requester, at, rng.randint(1, 5)))
            elif action == "feedback":
                row.update(requester_outcome="connected", requester_feedback_at=at)
            timeline.append((action, previous, after, actor, at))
            previous = after
        if state in ("declined", "withdrawn", "expired"):
            row["ended_at"] = at
        row["updated_at"] = at
        owner.introductions.append(tuple(row[c] for c in INTRODUCTION_COLUMNS))
        for action, before, after, actor, when in timeline:
            owner.timeline.append(
                (owner.id, new_id("iev"), intro_id, when, actor, action, before, after, None, {})
            )

    # --- rows, table by table; ledger and interactions first: contacts carry their sums ----

    def owner_rows(self) -> Iterator[tuple]:
        for i, owner in enumerate(self.owners):
            yield (owner.id, f"bench-{i}@example.com", f"Bench owner {i}", self.now)

    def settings_rows(self) -> Iterator[tuple]:
        for owner in self.owners:
            settings = {**DEFAULTS, "timezone": owner.spec.timezone}
            yield (owner.id, *settings.values(), 1, self.now)

    def key_rows(self) -> Iterator[tuple]:
        for owner in self.owners:
            secret = owner.api_key
            yield (
                new_id("key"), owner.id, "bench", hash_secret(secret), secret[:10],
                ["read", "write"], self.now, None,
            )  # fmt: skip

    def ledger_rows(self) -> Iterator[tuple]:
        rng = self.rng
        end = self.now - timedelta(minutes=1)
        for owner in self.owners:
            by_id = {p.id: p for p in owner.people}
            fixed = [(by_id[cid], n) for n, cid in owner.fixed.items()]
            tail = [p for p in owner.people if p.id not in owner.fixed.values()]
            pick = _tail_picker(rng, tail)
            for intro_id, requester, at, weight in owner.deposits:
                by_id[requester].deposits += weight
                yield (
                    owner.id, new_id("le"), requester, "gave", "introduction", weight, at, None,
                    None, at, intro_id,
                )  # fmt: skip
            rest = owner.spec.ledger - sum(owner.fixed) - len(owner.deposits)
            plan = [(person, n) for person, n in fixed] + [(None, rest)]
            for fixed_person, count in plan:
                for _ in range(count):
                    person = fixed_person or pick()
                    at = _between(rng, person.created_at, end)
                    weight = rng.randint(1, 5)
                    if rng.random() < 0.7:
                        direction = "gave"
                        person.deposits += weight
                    else:
                        direction = "received"
                        person.withdrawals += weight
                    kind = ENTRY_KINDS[rng.randrange(len(ENTRY_KINDS))]
                    note = "thanks for the intro" if rng.random() < 0.2 else None
                    yield (
                        owner.id, new_id("le"), person.id, direction, kind, weight, at, note,
                        None, at, None,
                    )  # fmt: skip

    def interaction_rows(self) -> Iterator[tuple]:
        rng = self.rng
        end = self.now - timedelta(minutes=1)
        for owner in self.owners:
            pick = _tail_picker(rng, owner.people)
            for _ in range(owner.spec.interactions):
                person = pick()
                at = _between(rng, person.created_at, end)
                person.interactions += 1
                if person.last_interaction_at is None or at > person.last_interaction_at:
                    person.last_interaction_at = at
                kind = MEETING_KINDS[rng.randrange(len(MEETING_KINDS))]
                summary = "caught up over coffee" if rng.random() < 0.3 else None
                initiated = "me" if rng.random() < 0.6 else "them"
                yield (owner.id, new_id("int"), person.id, kind, at, summary, initiated, at)

    def relationship_rows(self) -> Iterator[tuple]:
        for owner in self.owners:
            yield from owner.relationships

    def phrase_rows(self) -> Iterator[tuple]:
        """contact_phrase, as the app keeps it beside a contact's needs and offers."""
        for owner in self.owners:
            for person in owner.people:
                for kind, written in (("need", person.needs), ("offer", person.offers)):
                    for phrase in sorted({fold_phrase(value) for value in written}):
                        yield (owner.id, kind, phrase, person.id)

    def reminder_rows(self) -> Iterator[tuple]:
        """After contact_rows (reminders are for listed contacts): due within 60 days either
        side of now, written up to a month before they are due; a fifth of the past ones
        done, some days after they were due."""
        rng = self.extra
        last = self.now - timedelta(minutes=1)
        for owner in self.owners:
            listed = [p for p in owner.people if not p.archived]
            for _ in range(owner.spec.reminders):
                person = rng.choice(listed)
                due = self.now + timedelta(days=120) * (rng.random() - 0.5)
                start = max(person.created_at, min(due, last) - timedelta(days=30))
                created = _between(rng, start, min(due, last))
                done = None
                if due < self.now and rng.random() < 0.2:
                    done = min(due + timedelta(days=3) * rng.random(), last)
                note = rng.choice(REMINDER_NOTES)
                yield (
                    owner.id, "rem_" + str(ULID.from_datetime(created)).lower(), person.id,
                    due, note, done, 2 if done else 1, created, done or created,
                )  # fmt: skip

    def item_state_rows(self) -> Iterator[tuple]:
        """After contact_rows: the items an owner dismissed or snoozed. A long-time user
        dismissed the oldest touches on the list and snoozed a few more; most ids are of
        occurrences long gone (a touch since made, a reminder done), which stay stored."""
        rng = self.extra
        for owner in self.owners:
            n = owner.spec.hidden_items
            if not n:
                continue
            due = sorted((p.due_at, p.id) for p in owner.people if p.due_at and not p.archived)
            due = [(at, cid) for at, cid in due if at < self.now]
            current = [
                for_owner(owner.id, item_id(AgendaKind.touch_overdue, cid, at.isoformat()))
                for at, cid in due[: n // 6]
            ]
            for i, value in enumerate(current):
                # Every third of them snoozed for a few weeks, the rest dismissed.
                until = self.now + timedelta(days=1 + 30 * rng.random()) if i % 3 == 0 else None
                yield (owner.id, value, until, self.now - timedelta(days=rng.random()))
            for _ in range(n - len(current)):
                gone = item_id(AgendaKind.touch_overdue, new_id("ct"), secrets.token_hex(8))
                created = self.now - timedelta(days=700 * rng.random())
                # Dismissed, or snoozed until a day long past.
                until = None if rng.random() < 0.6 else created + timedelta(days=7)
                yield (owner.id, for_owner(owner.id, gone), until, created)

    def introduction_rows(self) -> Iterator[tuple]:
        for owner in self.owners:
            yield from owner.introductions

    def timeline_rows(self) -> Iterator[tuple]:
        for owner in self.owners:
            yield from owner.timeline

    def contact_rows(self) -> Iterator[tuple]:
        """After ledger_rows and interaction_rows: the totals are known by then."""
        rng = self.rng
        for owner in self.owners:
            for n, person in enumerate(owner.people):
                yield self._contact(rng, owner, n, person)

    def _contact(self, rng: random.Random, owner: Owner, n: int, person: Person) -> tuple:
        given, family = rng.choice(FIRST), rng.choice(LAST)
        local = fold(f"{given}.{family}.{n}")  # an address of ASCII letters
        email = f"{local}@{fold(family).replace('-', '')}.example"
        channels = [{"type": "email", "value": email, "permitted_uses": _uses(rng)}]
        phone = f"{n % 10_000:04d}" if rng.random() < 0.4 else None
        if phone:
            channels.append(
                {"type": "phone", "value": f"+44 20 7946 {phone}", "permitted_uses": []}
            )
        if rng.random() < 0.3:
            url = f"https://linkedin.example/in/{given}-{family}-{n}"
            channels.append({"type": "linkedin", "value": url, "permitted_uses": _uses(rng)})
        # As touch_interaction leaves it: one version per interaction, updated at the latest.
        updated = max(person.created_at, person.last_interaction_at or person.created_at)
        # A fifth came from an import that knew when the owner and they connected.
        connected = None
        if self.extra.random() < 0.2:
            connected = person.created_at - timedelta(days=700) * self.extra.random()
        contact = SimpleNamespace(
            display_name=f"{given.title()} {family.title()}",
            given_name=given.title(),
            family_name=family.title(),
            organization=rng.choice(ORGS) if rng.random() < 0.8 else None,
            title=rng.choice(TITLES),
            tags=rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2, 3))),
            channels=channels,
            cadence_days=rng.choice(CADENCES),
            last_interaction_at=person.last_interaction_at,
            connected_at=connected,
            created_at=person.created_at,
            needs=person.needs,
            offers=person.offers,
        )
        _derive(contact)  # search_text, channel_uses, due_at: exactly as the app computes them
        refs = {"hubspot": f"hs-{n}"} if rng.random() < 0.3 else {}
        archived = person.created_at + timedelta(days=1) if rng.random() < 0.02 else None
        person.due_at, person.archived = contact.due_at, archived is not None
        if archived is None:
            owner.visible_ids.append(person.id)
        if archived is None and owner is self.large and n % 10 == 0 and fold(family) != family:
            owner.unaccented_names.append(fold(family))
        if archived is None and owner is self.large and n % 100 == 0:
            owner.family_names.append(family)
            owner.emails.append(email)
            if phone:
                written = f"(020) 7946-{phone}" if n % 200 else f"020 7946 {phone}"
                owner.phones.append(written)
        return (
            owner.id, person.id, contact.display_name, contact.given_name, contact.family_name,
            contact.organization, contact.title, rng.choice(ZONES), rng.choice(STAGES),
            contact.cadence_days, "Met at a conference." if rng.random() < 0.3 else None,
            contact.tags, channels, refs, person.needs, person.offers, contact.search_text,
            contact.channel_uses, connected, person.last_interaction_at, contact.due_at,
            person.deposits, person.withdrawals,
            1 + person.interactions, person.created_at, max(updated, archived or updated),
            archived, None,
        )  # fmt: skip


def _typed(rng: random.Random, phrase: str) -> str:
    """A phrase as someone might type it: folding gives the phrase back."""
    roll = rng.random()
    if roll < 0.3:
        return phrase.capitalize()
    if roll < 0.4:
        return phrase.replace(" ", "  ", 1)
    return phrase


def _uses(rng: random.Random) -> list[str]:
    return [use for use in USES if rng.random() < 0.4]


def side_rows(contacts: list[tuple]) -> dict[str, tuple[list[str], list[tuple]]]:
    """The rows the app keeps beside each contact, mirrored from the contact rows as the
    app writes them: its tags, its external refs, the normalised emails and phone numbers of
    its channels (`channel_keys`, what imports match people by), and the tokens of its
    search text with the owner's vocabulary of them (app/contacts/tokens.py); and the
    owner's change feed, a `contact.created` event each (its data cut to the id), so that
    the feed is as a long-lived owner's is: statistics on `event` made from an empty table
    would plan every read of an owner's latest event as a scan of it."""
    col = {name: i for i, name in enumerate(CONTACT_COLUMNS)}
    tags, refs, identifiers, words = [], [], [], []
    events = sorted(
        (
            row[col["created_at"]],
            row[col["owner_id"]],
            row[col["id"]],
        )
        for row in contacts
    )
    vocabulary: dict[tuple[str, str], None] = {}
    for row in contacts:
        owner_id, contact_id = row[col["owner_id"]], row[col["id"]]
        for token in sorted(tokens(row[col["search_text"]])):
            words.append((owner_id, token, contact_id))
            vocabulary[owner_id, token] = None
        tags += [(owner_id, tag, contact_id) for tag in row[col["tags"]]]
        refs += [(owner_id, s, e, contact_id) for s, e in row[col["external_refs"]].items()]
        identifiers += [
            (owner_id, kind, value, contact_id)
            for kind, value in sorted(channel_keys(row[col["channels"]]))
        ]
    return {
        "contact_tag": (["owner_id", "tag", "contact_id"], tags),
        "contact_external_ref": (["owner_id", "system", "external_id", "contact_id"], refs),
        "contact_identifier": (["owner_id", "kind", "value", "contact_id"], identifiers),
        "contact_token": (["owner_id", "token", "contact_id"], words),
        "owner_token": (["owner_id", "token"], list(vocabulary)),
        "event": (
            EVENT_COLUMNS,
            [
                (new_id("ev"), owner_id, "contact.created", "contact", cid, cid, at, {"id": cid})
                for at, owner_id, cid in events
            ],
        ),
    }


def after_contacts(gen: Generator) -> list[tuple[str, list[str], Any]]:
    """The tables generated once the contacts are (which are archived, when each is due)."""
    return [
        ("contact_phrase", ["owner_id", "kind", "phrase", "contact_id"], gen.phrase_rows()),
        ("relationship", RELATIONSHIP_COLUMNS, gen.relationship_rows()),
        ("reminder", REMINDER_COLUMNS, gen.reminder_rows()),
        ("agenda_item_state", ITEM_STATE_COLUMNS, gen.item_state_rows()),
    ]


def _jsonify(columns: list[str], rows: Any) -> Iterator[tuple]:
    """asyncpg's COPY takes `json` values as text."""
    indexes = [i for i, name in enumerate(columns) if name in JSON_COLUMNS]
    for row in rows:
        if indexes:
            row = list(row)
            for i in indexes:
                row[i] = orjson.dumps(row[i]).decode()
        yield tuple(row)


async def load_postgres(url: str, gen: Generator) -> dict[str, int]:
    """COPY everything in one transaction. Foreign-key triggers are off for the load
    (`session_replication_role = replica`, which needs a superuser, as the local `postgres`
    is): the rows are consistent by construction, and the order they are generated in
    (entries before the contacts that carry their sums) would otherwise be refused."""
    conn = await asyncpg.connect(url)
    counts: dict[str, int] = {}
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")

            async def copy(table: str, columns: list[str], rows: Any) -> None:
                result = await conn.copy_records_to_table(
                    table, records=_jsonify(columns, rows), columns=columns
                )
                counts[table] = int(result.split()[-1])

            await copy("owner", OWNER_COLUMNS, gen.owner_rows())
            await copy("owner_settings", SETTINGS_COLUMNS, gen.settings_rows())
            await copy("api_key", KEY_COLUMNS, gen.key_rows())
            await copy("ledger_entry", LEDGER_COLUMNS, gen.ledger_rows())
            await copy("interaction", INTERACTION_COLUMNS, gen.interaction_rows())
            await copy("introduction", INTRODUCTION_COLUMNS, gen.introduction_rows())
            await copy("introduction_event", TIMELINE_COLUMNS, gen.timeline_rows())
            contacts = list(gen.contact_rows())
            await copy("contact", CONTACT_COLUMNS, contacts)
            for table, (columns, rows) in side_rows(contacts).items():
                await copy(table, columns, rows)
            for table, columns, rows in after_contacts(gen):
                await copy(table, columns, rows)
        # As autovacuum would have left a long-lived database: statistics, and a visibility
        # map so that index-only scans need not visit the heap.
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return counts


def load_sqlite(path: str, gen: Generator) -> dict[str, int]:
    """Through SQLAlchemy Core and the app's own table types (UTC datetimes stored as the
    app stores them, JSON as text); foreign keys are not enforced on this connection."""
    tables = {t.name: t for t in metadata.sorted_tables}
    engine = create_sync_engine(f"sqlite:///{path}")
    counts: dict[str, int] = {}
    contacts: list[tuple] = []

    def rows_of(name: str, columns: list[str], rows: Any) -> list[dict]:
        out = [dict(zip(columns, row, strict=True)) for row in rows]
        counts[name] = len(out)
        return out

    try:
        with engine.begin() as conn:
            for name, columns, rows in (
                ("owner", OWNER_COLUMNS, gen.owner_rows()),
                ("owner_settings", SETTINGS_COLUMNS, gen.settings_rows()),
                ("api_key", KEY_COLUMNS, gen.key_rows()),
                ("ledger_entry", LEDGER_COLUMNS, gen.ledger_rows()),
                ("interaction", INTERACTION_COLUMNS, gen.interaction_rows()),
                ("introduction", INTRODUCTION_COLUMNS, gen.introduction_rows()),
                ("introduction_event", TIMELINE_COLUMNS, gen.timeline_rows()),
                ("contact", CONTACT_COLUMNS, contacts := list(gen.contact_rows())),
            ):
                if batch := rows_of(name, columns, rows):  # (an empty list inserts one row)
                    conn.execute(tables[name].insert(), batch)
            later = [(t, c, r) for t, (c, r) in side_rows(contacts).items()]
            for table, columns, rows in later + after_contacts(gen):
                if batch := rows_of(table, columns, rows):
                    conn.execute(tables[table].insert(), batch)
    finally:
        engine.dispose()
    return counts
