"""Suggestions: introductions the owner could offer, where one contact's need is another's
offer (both folded, `contact_phrase`), best first.

Left out, as the introduction rules would refuse them (app/introductions): a pair with an open
introduction (`requested`, `awaiting_consent`, `consented`, `made`), a pair whose target
declined this requester within `decline_cooldown_days`, a target without a channel that
permits introductions or with `max_pending_consents_per_target` consent requests pending
(awaiting an answer, the link not lapsed), an archived or erased contact on either side, and
a contact paired with itself.

Ranking: score = 10 x the target's trust stage + 10 x the requester's (stranger 0,
acquaintance 1, known 2, liked 3, trusted 4), + 50 when the owner's goodwill with the target
already covers an ask of weight 1 (asking them to meet someone is a withdrawal: better asked
of someone you have given to). Then by requester id, then target id. A pair matching on
several phrases is one suggestion, with the first phrase.

Bounded: each phrase brings its best `PER_PHRASE` eligible targets and its best `PER_PHRASE`
requesters (by their side of the score), so a phrase that hundreds need and hundreds offer
makes at most PER_PHRASE² pairs, not tens of thousands; and the list holds at most
`MAX_SUGGESTIONS`. The statement still reads every need and offer of the owner and each
such contact once (a few hundred milliseconds for the bench's ten thousand), so its answer
is kept, per process, while the owner's data is as it was (app/network/kept.py): the
owner's latest event number and settings version, since every change that can take a
suggestion away (an introduction asked for or declined, a contact archived, a channel or a
stage or a balance changed) writes an event. Time alone only brings suggestions back (a
cooldown ending, a consent link lapsing), so a kept answer is used for at most
`KEEP_SECONDS` more.
docs/decisions/2026-12-07-warm-paths-and-suggestions.md has the measurements.
"""

from datetime import timedelta
from typing import Any

from sqlalchemy import Integer, String, bindparam, literal_column, text

from app.core.pagination import decode_cursor, page_of
from app.core.reads import Reader
from app.core.reciprocity import can_ask
from app.core.types import UTCDateTime, utcnow
from app.network.kept import KeptAnswers
from app.settings.service import read_rules

PER_PHRASE = 5
MAX_SUGGESTIONS = 1_000
KEEP_SECONDS = 600.0
# Owners whose suggestions a process keeps.
_KEPT_OWNERS = 256
_CURSOR_KIND = "suggestion"

# Whether the owner's goodwill with a contact covers an ask of weight 1: reciprocity's own
# rule, rendered as SQL.
_CAN_ASK_ONE = str(
    can_ask(
        literal_column("c.ledger_deposits"),
        literal_column("c.ledger_withdrawals"),
        bindparam("ratio"),
        literal_column("1"),
    )
)

_SUGGESTIONS = (
    text(
        """
WITH people AS (
    -- Everyone with a need or an offer, live, read once: their side of the score, and
    -- whether they may be asked for an introduction.
    SELECT c.id,
           10 * CASE c.trust_stage WHEN 'acquaintance' THEN 1 WHEN 'known' THEN 2
                     WHEN 'liked' THEN 3 WHEN 'trusted' THEN 4 ELSE 0 END AS stage_score,
           CASE WHEN :can_ask_one: THEN 50 ELSE 0 END AS goodwill_score,
           CASE WHEN c.channel_uses LIKE '%,introductions,%' THEN 1 ELSE 0 END AS reachable
    FROM contact c
    WHERE c.owner_id = :owner
      AND c.id IN (SELECT p.contact_id FROM contact_phrase p WHERE p.owner_id = :owner)
      AND c.archived_at IS NULL AND c.erased_at IS NULL
),
busy AS (
    -- Targets with as many consent requests pending (asked, not lapsed) as the cap.
    SELECT i.target_id AS id
    FROM introduction i
    WHERE i.owner_id = :owner AND i.state = 'awaiting_consent' AND i.consent_expires_at > :now
    GROUP BY i.target_id
    HAVING COUNT(*) >= :max_pending
),
offers AS (
    SELECT phrase, contact_id, score FROM (
        SELECT p.phrase, p.contact_id, t.stage_score + t.goodwill_score AS score,
               ROW_NUMBER() OVER (
                   PARTITION BY p.phrase
                   ORDER BY t.stage_score + t.goodwill_score DESC, p.contact_id
               ) AS n
        FROM contact_phrase p JOIN people t ON t.id = p.contact_id
        WHERE p.owner_id = :owner AND p.kind = 'offer' AND t.reachable = 1
          AND t.id NOT IN (SELECT id FROM busy)
    ) x
    WHERE n <= :per_phrase
),
needs AS (
    SELECT phrase, contact_id, score FROM (
        SELECT p.phrase, p.contact_id, r.stage_score AS score,
               ROW_NUMBER() OVER (
                   PARTITION BY p.phrase ORDER BY r.stage_score DESC, p.contact_id
               ) AS n
        FROM contact_phrase p JOIN people r ON r.id = p.contact_id
        WHERE p.owner_id = :owner AND p.kind = 'need'
    ) x
    WHERE n <= :per_phrase
),
pairs AS (
    SELECT n.contact_id AS requester_id, o.contact_id AS target_id, MIN(n.phrase) AS need,
           MAX(n.score + o.score) AS score
    FROM needs n JOIN offers o ON o.phrase = n.phrase
    WHERE n.contact_id <> o.contact_id
      AND NOT EXISTS (
          SELECT 1 FROM introduction i
          WHERE i.owner_id = :owner AND i.requester_id = n.contact_id
            AND i.target_id = o.contact_id
            AND i.state IN ('requested', 'awaiting_consent', 'consented', 'made')
      )
      AND NOT EXISTS (
          SELECT 1 FROM introduction i
          WHERE i.owner_id = :owner AND i.requester_id = n.contact_id
            AND i.target_id = o.contact_id AND i.state = 'declined' AND i.decided_at > :since
      )
    GROUP BY n.contact_id, o.contact_id
),
best AS (
    SELECT * FROM pairs ORDER BY score DESC, requester_id, target_id LIMIT :max_suggestions
)
SELECT b.requester_id, b.target_id, b.need, b.score,
       r.display_name AS requester_name, t.display_name AS target_name
FROM best b
JOIN contact r ON r.owner_id = :owner AND r.id = b.requester_id
JOIN contact t ON t.owner_id = :owner AND t.id = b.target_id
ORDER BY b.score DESC, b.requester_id, b.target_id
""".replace(":can_ask_one:", _CAN_ASK_ONE)
    )
    .bindparams(
        bindparam("owner", type_=String()),
        bindparam("now", type_=UTCDateTime()),
        bindparam("since", type_=UTCDateTime()),
    )
    .columns(score=Integer())
)


# Every suggestion of an owner, kept by each worker while their data is unchanged (at most
# KEEP_SECONDS: time alone brings suggestions back).
_answers: KeptAnswers[list[dict[str, Any]]] = KeptAnswers(most=_KEPT_OWNERS, seconds=KEEP_SECONDS)


def reason(requester: str, target: str, need: str) -> str:
    return f"{requester} needs {need} and {target} offers it: offer to introduce them."[:1000]


async def _compute(reader: Reader, owner_id: str) -> list[dict[str, Any]]:
    rules = await read_rules(reader, owner_id=owner_id)
    now = utcnow()
    params = {
        "owner": owner_id,
        "ratio": rules["reciprocity_ratio"],
        "max_pending": rules["max_pending_consents_per_target"],
        "now": now,
        "since": now - timedelta(days=rules["decline_cooldown_days"]),
        "per_phrase": PER_PHRASE,
        "max_suggestions": MAX_SUGGESTIONS,
    }
    return [dict(row) for row in await reader.rows(_SUGGESTIONS, params)]


async def ranked(reader: Reader, owner_id: str) -> list[dict[str, Any]]:
    """Every suggestion of the owner (at most MAX_SUGGESTIONS), best first, as rows with the
    two names; from what this process kept while the owner's data has not changed."""
    return await _answers.get(reader, owner_id, None, lambda: _compute(reader, owner_id))


def _key(row: dict[str, Any]) -> tuple[int, str, str]:
    return (-row["score"], row["requester_id"], row["target_id"])


def after(rows: list[dict[str, Any]], cursor_key: tuple[int, str, str] | None) -> list[dict]:
    if cursor_key is None:
        return rows
    return [row for row in rows if _key(row) > cursor_key]


async def suggestions(
    reader: Reader, *, owner_id: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of suggestions, best first, after the cursor's (score, requester, target)."""
    cursor_key = None
    if cursor:
        score, requester_id, target_id = decode_cursor(
            cursor, _CURSOR_KIND, owner_id, (int, str, str)
        )
        cursor_key = (-score, requester_id, target_id)
    rows = after(await ranked(reader, owner_id), cursor_key)
    page, next_cursor = page_of(
        rows[: limit + 1],
        limit,
        kind=_CURSOR_KIND,
        owner_id=owner_id,
        key=lambda row: [row["score"], row["requester_id"], row["target_id"]],
    )
    return [
        {
            "requester_id": row["requester_id"],
            "target_id": row["target_id"],
            "need": row["need"],
            "reason": reason(row["requester_name"], row["target_name"], row["need"]),
            "score": row["score"],
        }
        for row in page
    ], next_cursor


# Scores are at most 130 (4 x 10 + 4 x 10 + 50): a fixed width sorts them as numbers.
_SCORE_WIDTH = 4


async def to_give(
    reader: Reader, *, owner_id: str, after: str | None, limit: int
) -> list[dict[str, Any]]:
    """The agenda's `give` items: suggestions, best first, each with the names and a `tie`
    that sorts as they do (the score's complement, the requester, the target), from the
    first at or after `after`."""
    items = []
    for row in await ranked(reader, owner_id):
        score = 10**_SCORE_WIDTH - 1 - row["score"]
        tie = f"{score:0{_SCORE_WIDTH}d}:{row['requester_id']}:{row['target_id']}"
        if after is not None and tie < after:
            continue
        items.append(
            {
                **row,
                "tie": tie,
                "reason": reason(row["requester_name"], row["target_name"], row["need"]),
            }
        )
        if len(items) >= limit:
            break
    return items
