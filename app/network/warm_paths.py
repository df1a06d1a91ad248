"""Warm paths: who could introduce the owner to a contact, or to someone at an organisation.

Every contact is the owner's, so the owner knows each introducer directly; a path is the
chain of relationships from the introducer to the target, and `hops` counts those
relationships: 1, the introducer knows the target (`[introducer, target]`); 2, the
introducer knows someone who knows the target (`[introducer, middle, target]`).

One statement on the relationship table's two indexes (each end, covering the other end and
the strength), read in both directions with UNION ALL:

1. `near`: the targets' neighbours, each with its best link (the strongest, then to the
   first target by id): one sort of the edges read, index-only.
2. `middles`: the strongest live (neighbour, target) pairs, at most `MAX_MIDDLES`: the
   bounded fan-out (a hub's neighbours' neighbours are a good part of the network). None
   when the neighbours alone are `MAX_CANDIDATES` or more: a two-hop path ranks after every
   one-hop path in the shortlist below, so it could not be in it, and the targets' edges
   are then not read a second time for them.
3. `far`: the middles' neighbours with no link of their own to a target, each path's
   strength its weaker link; each introducer's best (the strongest, then by middle and
   target).
4. `best`: those introducers' paths, the `MAX_CANDIDATES` best by hops and strength alone
   (then id). Only these are weighed by reciprocity: weighing one costs a read of the
   introducer's row, and a hub has a thousand neighbours.
5. `ranked`: the live ones, by whether the owner can ask now (app/core/reciprocity.py's
   rule, `can_ask`, rendered in SQL: goodwill >= ratio x ask_weight), then fewer hops, the stronger
   weakest link, the more recent interaction with the introducer (never touched last),
   then the introducer's id; the first `limit`, with the names of their targets and middles.

A hub's request is the rows it reads: a thousand edges go through one sort and one bounded
sort, and no row is read twice or turned into text (docs/decisions/
2026-12-07-warm-paths-and-suggestions.md, "Measurements").

No path goes through or to an archived (or erased) contact: targets, middles and
introducers must be live. A target is never an introducer: for an organisation, a contact
who works there is a target, not a way in. The answer's `can_ask` and `deposits_needed` come
from `contact_reciprocity`, the function GET /v1/contacts/{id}/reciprocity answers with.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, bindparam, literal_column, text
from sqlmodel import col, select

from app.contacts.models import Contact
from app.contacts.search import fold
from app.contacts.service import ContactNotFound
from app.core.reads import Reader, Spelled
from app.core.reciprocity import can_ask, contact_reciprocity
from app.core.types import UTCDateTime, utcnow
from app.network.kept import KeptAnswers
from app.settings.schemas import DEFAULTS

# The middle layer of two-hop paths: the targets' strongest live neighbours, at most this
# many (docs/decisions/2026-12-07-warm-paths-and-suggestions.md).
MAX_MIDDLES = 50
# Introducers weighed by reciprocity: each one's best path, the best this many by hops and
# strength alone (each costs a read of the introducer's row).
MAX_CANDIDATES = 100
# An organisation's contacts taken as targets, first by id; and the contacts whose folded
# text mentions the organisation read to find them.
MAX_TARGETS = 100
MAX_ORGANIZATION_CANDIDATES = 5_000
INTRODUCTIONS = ",introductions,"
# Answers each worker keeps, by owner and question: a path is a few hundred bytes and a
# question asks for at most 100 of them; kept at most ten minutes, as suggestions are.
_answers: KeptAnswers[list[dict[str, Any]]] = KeptAnswers(most=256, seconds=600.0)
# Whether the owner can ask the introducer now: reciprocity's own rule, rendered as SQL.
CAN_ASK_SQL = str(
    can_ask(
        literal_column("c.ledger_deposits"),
        literal_column("c.ledger_withdrawals"),
        literal_column("rules.ratio"),
        bindparam("ask_weight"),
    )
)

# The targets, sent as one JSON array so that the statement is the same for one target or
# a hundred (and is prepared once on PostgreSQL, app/core/reads.py); only the live ones are
# targets (an archived target has no paths). Their names are read here, once, for the answer.
_TARGETS = {
    "postgresql": """
        SELECT t.id, t.display_name
        FROM (SELECT jsonb_array_elements_text(CAST(:ids AS jsonb)) AS id) j
        CROSS JOIN LATERAL (
            SELECT c.id, c.display_name FROM contact c
            WHERE c.owner_id = :owner AND c.id = j.id
              AND c.archived_at IS NULL AND c.erased_at IS NULL
            OFFSET 0
        ) t""",
    "sqlite": """
        SELECT c.id, c.display_name
        FROM json_each(:ids) j
        JOIN contact c ON c.owner_id = :owner AND c.id = j.value
        WHERE c.archived_at IS NULL AND c.erased_at IS NULL""",
}
_PATHS_SQL = """
WITH targets AS (:targets:),
rules AS (
    SELECT COALESCE(
        (SELECT s.reciprocity_ratio FROM owner_settings s WHERE s.owner_id = :owner),
        :default_ratio
    ) AS ratio
),
near AS (
    -- Each neighbour's best link: the strongest, then to the first target by id.
    :near:
),
middles AS (
    -- In strength order, the liveness of each asked only until enough are found; none
    -- when the targets' neighbours alone fill the candidates (two hops rank after one).
    SELECT n.id, n.target, n.strength
    FROM (
        SELECT e.id, e.target, MAX(e.strength) AS strength
        FROM (:near_edges:) e
        WHERE :not_a_target:
        GROUP BY e.id, e.target
        ORDER BY strength DESC, e.id{c}, e.target{c}
    ) n
    WHERE :max_hops >= 2
      -- Counted only up to the bound: a hub's thousand neighbours are not all read again.
      AND (SELECT COUNT(*) FROM (SELECT 1 FROM near LIMIT :max_candidates) x)
          < :max_candidates
      -- A subquery of its own, not EXISTS, which the planner may turn into a join that
      -- reads every live contact.
      AND (
          SELECT 1 FROM contact m
          WHERE m.owner_id = :owner AND m.id = n.id
            AND m.archived_at IS NULL AND m.erased_at IS NULL
      ) = 1
    LIMIT :max_middles
),
far AS (
    SELECT e.id, e.middle, e.target,
           CASE WHEN e.strength < e.middle_strength THEN e.strength ELSE e.middle_strength END
               AS strength
    FROM (:far_edges:) e
    WHERE :not_a_target: AND e.id NOT IN (SELECT id FROM near)
),
best AS (
    -- Each introducer's best path (a neighbour's is its link; two hops only for those
    -- with no link of their own: the strongest, then by middle and target), and of those
    -- the best candidates by hops and strength alone. The sort keys lead each row, `cid`
    -- the id as it sorts: a sort finds its second and later keys in each row, walking
    -- past every variable-length column before them.
    SELECT * FROM (
        SELECT 1 AS hops, strength, id{c} AS cid, id, target, NULL AS middle FROM near
        UNION ALL
        SELECT 2 AS hops, strength, id{c} AS cid, id, target, middle FROM (:far_best:) f
    ) p
    ORDER BY hops, strength DESC, cid
    LIMIT :max_candidates
),
ranked AS (
    SELECT CASE WHEN :can_ask: THEN 0 ELSE 1 END AS ask_rank, b.hops, b.strength,
           CASE WHEN c.last_interaction_at IS NULL THEN 1 ELSE 0 END AS untouched,
           c.last_interaction_at, b.cid, b.id, b.middle, b.target, rules.ratio,
           c.display_name, c.ledger_deposits, c.ledger_withdrawals, c.due_at, c.channel_uses
    FROM best b
    CROSS JOIN rules
    JOIN contact c ON c.owner_id = :owner AND c.id = b.id
    WHERE c.archived_at IS NULL AND c.erased_at IS NULL
    ORDER BY ask_rank, b.hops, b.strength DESC, untouched, c.last_interaction_at DESC, b.cid
    LIMIT :lim
)
-- What the answer needs, the ranking aside.
SELECT r.id, r.hops, r.strength, r.middle, r.target, r.ratio, r.display_name,
       r.ledger_deposits, r.ledger_withdrawals, r.due_at, r.last_interaction_at,
       r.channel_uses, t.display_name AS target_name,
       -- Read only for the paths that have a middle.
       CASE WHEN r.hops = 2 THEN (
           SELECT m.display_name FROM contact m WHERE m.owner_id = :owner AND m.id = r.middle
       ) END AS middle_name
FROM ranked r
JOIN targets t ON t.id = r.target
ORDER BY r.ask_rank, r.hops, r.strength DESC, r.untouched, r.last_interaction_at DESC, r.cid
"""
# Ids are ordered by their bytes, as SQLite and Python order them: on PostgreSQL a collation
# other than "C" (even C.UTF-8, the same order for ids) compares each pair through strcoll.
_C = {"postgresql": ' COLLATE "C"', "sqlite": ""}
# No target is an introducer (or a middle): on PostgreSQL a comparison with the targets as
# one array, checked in the index scans themselves, rather than a hashed subplan per row.
_NOT_A_TARGET = {
    "postgresql": "e.id <> ALL (ARRAY(SELECT id FROM targets))",
    "sqlite": "e.id NOT IN (SELECT id FROM targets)",
}
# The first row of each introducer in `order`, `columns` of `source`: one sort and no
# aggregate on PostgreSQL (DISTINCT ON); SQLite has no DISTINCT ON, and numbers the rows.
_FIRST = {
    "postgresql": """
        SELECT DISTINCT ON (e.id COLLATE "C") {columns}
        FROM {source} e
        WHERE {where}
        ORDER BY e.id COLLATE "C", {order}""",
    "sqlite": """
        SELECT {columns} FROM (
            SELECT {columns}, ROW_NUMBER() OVER (PARTITION BY e.id ORDER BY {order}) AS n
            FROM {source} e
            WHERE {where}
        ) e
        WHERE n = 1""",
}
# A hop from each row of `frm` (with `fields`) along the relationships, both directions: on
# PostgreSQL a LATERAL subquery, so that even the generic plan of the prepared statement
# reads each row's edges from the two indexes (a join let it read every edge of a large
# owner, whose rows it cannot tell from a small one's); SQLite has no LATERAL, and plans
# every run anyway.
_HOP = {
    "postgresql": """
        SELECT {fields}, x.id, x.strength
        FROM {frm} CROSS JOIN LATERAL (
            SELECT r.contact_b_id AS id, r.strength FROM relationship r
            WHERE r.owner_id = :owner AND r.contact_a_id = {end}
            UNION ALL
            SELECT r.contact_a_id AS id, r.strength FROM relationship r
            WHERE r.owner_id = :owner AND r.contact_b_id = {end}
        ) x""",
    "sqlite": """
        SELECT {fields}, r.contact_b_id AS id, r.strength
        FROM {frm} JOIN relationship r ON r.owner_id = :owner AND r.contact_a_id = {end}
        UNION ALL
        SELECT {fields}, r.contact_a_id AS id, r.strength
        FROM {frm} JOIN relationship r ON r.owner_id = :owner AND r.contact_b_id = {end}""",
}
_NEAR = {"fields": "t.id AS target", "frm": "targets t", "end": "t.id"}
_FAR = {
    "fields": "m.id AS middle, m.target, m.strength AS middle_strength",
    "frm": "middles m",
    "end": "m.id",
}


# Built once for each database (app/core/reads.py's Spelled): typed as the columns are, so
# that SQLite's text comes back as aware datetimes.
def _spelled(database: str) -> Any:
    c = _C[database]
    near_edges = _HOP[database].format(**_NEAR)
    near = _FIRST[database].format(
        columns="e.strength, e.id, e.target",
        source=f"({near_edges})",
        where=_NOT_A_TARGET[database],
        order=f"e.strength DESC, e.target{c}",
    )
    far_best = _FIRST[database].format(
        columns="e.id, e.middle, e.target, e.strength",
        source="far",
        where="1 = 1",
        order=f"e.strength DESC, e.middle{c}, e.target{c}",
    )
    return (
        text(
            _PATHS_SQL.replace("{c}", c)
            .replace(":targets:", _TARGETS[database])
            .replace(":near:", near)
            .replace(":near_edges:", near_edges)
            .replace(":far_edges:", _HOP[database].format(**_FAR))
            .replace(":far_best:", far_best)
            .replace(":not_a_target:", _NOT_A_TARGET[database])
            .replace(":can_ask:", CAN_ASK_SQL)
        )
        .bindparams(bindparam("ids", type_=String()), bindparam("owner", type_=String()))
        .columns(last_interaction_at=UTCDateTime(), due_at=UTCDateTime())
    )


_PATHS = Spelled(postgresql=_spelled("postgresql"), sqlite=_spelled("sqlite"))


_TARGET = select(Contact.id).where(
    Contact.owner_id == bindparam("owner_id"),
    Contact.id == bindparam("target_id"),
    col(Contact.erased_at).is_(None),
)
# The folded organisation is part of each such contact's search_text: the trigram index finds
# the candidates, and the exact (folded) comparison keeps the organisation's own.
_AT_ORGANIZATION = (
    select(Contact.id, Contact.organization)
    .where(
        Contact.owner_id == bindparam("owner_id"),
        col(Contact.archived_at).is_(None),
        col(Contact.erased_at).is_(None),
        col(Contact.organization).is_not(None),
        col(Contact.search_text).contains(bindparam("q"), escape="/"),
    )
    .order_by(Contact.id)
    .limit(MAX_ORGANIZATION_CANDIDATES)
)


async def check_target(reader: Reader, *, owner_id: str, target_id: str) -> None:
    """ContactNotFound unless the owner has the contact (archived or not)."""
    if not await reader.rows(_TARGET, {"owner_id": owner_id, "target_id": target_id}):
        raise ContactNotFound(f"No contact {target_id}.")


async def organization_targets(reader: Reader, *, owner_id: str, organization: str) -> list[str]:
    """The organisation's live contacts, matched folded as search folds them (case and
    accents aside), at most MAX_TARGETS of them, first by id."""
    wanted = fold(organization)
    escaped = wanted.replace("/", "//").replace("%", "/%").replace("_", "/_")
    rows = await reader.rows(
        _AT_ORGANIZATION, {"owner_id": owner_id, "q": escaped}, plan_for_values=True
    )
    # Folded once per spelling of an organisation, not once per contact.
    spellings = {row["organization"] for row in rows}
    matching = {spelling for spelling in spellings if fold(spelling) == wanted}
    return [row["id"] for row in rows if row["organization"] in matching][:MAX_TARGETS]


def _reason(
    row: Mapping[str, Any], hops: int, strength: int, summary: Mapping[str, Any], ask_weight: int
) -> str:
    name, target = row["display_name"], row["target_name"]
    if hops == 1:
        how = f"{name} knows {target} (strength {strength})."
    else:
        how = f"{name} knows {row['middle_name']}, who knows {target} (weakest link {strength})."
    if summary["can_ask"]:
        ask = f" Your goodwill with {name} covers an ask of weight {ask_weight}: ask now."
    else:
        needed = summary["deposits_needed"]
        ask = f" Give to {name} before you ask: {needed} more in deposits."
    return (how + ask)[:1000]


def _path(row: Mapping[str, Any], now: Any, ask_weight: int) -> dict[str, Any]:
    hops, strength, target = row["hops"], row["strength"], row["target"]
    summary = contact_reciprocity(row, row["ratio"], now, ask_weight=ask_weight)
    return {
        "path": [row["id"], row["middle"], target] if hops == 2 else [row["id"], target],
        "introducer": {"id": row["id"], "display_name": row["display_name"]},
        "target": {"id": target, "display_name": row["target_name"]},
        "hops": hops,
        "strength": strength,
        "can_ask": summary["can_ask"],
        "deposits_needed": summary["deposits_needed"],
        "permits_introductions": INTRODUCTIONS in row["channel_uses"],
        "last_interaction_at": row["last_interaction_at"],
        "reason": _reason(row, hops, strength, summary, ask_weight),
    }


async def warm_paths(
    reader: Reader,
    *,
    owner_id: str,
    target_id: str | None,
    organization: str | None,
    ask_weight: int,
    max_hops: int,
    limit: int,
) -> list[dict[str, Any]]:
    """The best `limit` introducers to the target (or the organisation), best first: as
    this worker computed them while the owner's data is unchanged (app/network/kept.py;
    nothing in a path depends on the time), or computed now."""
    question = _Question(
        target_id, organization, ask_weight, max_hops, limit, MAX_MIDDLES, MAX_CANDIDATES
    )
    return await _answers.get(
        reader, owner_id, question, lambda: _computed(reader, owner_id, question)
    )


@dataclass(frozen=True)
class _Question:
    """What a warm-paths answer is computed from, besides the owner's data: the key it is
    kept under."""

    target_id: str | None
    organization: str | None
    ask_weight: int
    max_hops: int
    limit: int
    max_middles: int
    max_candidates: int


async def _computed(reader: Reader, owner_id: str, asked: _Question) -> list[dict[str, Any]]:
    if asked.target_id is not None:
        targets = [asked.target_id]
    else:
        assert asked.organization is not None
        targets = await organization_targets(
            reader, owner_id=owner_id, organization=asked.organization
        )
        if not targets:
            return []
    params = {
        "owner": owner_id,
        "default_ratio": DEFAULTS["reciprocity_ratio"],
        "ids": json.dumps(targets),
        "ask_weight": asked.ask_weight,
        "max_hops": asked.max_hops,
        "max_middles": asked.max_middles,
        "max_candidates": asked.max_candidates,
        "lim": asked.limit,
    }
    rows = await reader.rows(_PATHS, params)
    if not rows and asked.target_id is not None:
        # No paths: to an unknown contact (404), an archived one, or one nobody knows. Asked
        # only now, so that a request with paths is one statement.
        await check_target(reader, owner_id=owner_id, target_id=asked.target_id)
    now = utcnow()
    return [_path(row, now, asked.ask_weight) for row in rows]
