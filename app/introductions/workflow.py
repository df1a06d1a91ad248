"""The introduction state machine: a table of allowed transitions and pure functions.

Every other module asks this one; none re-implements it.

    requested -> awaiting_consent -> consented -> made -> completed
    ended: declined, withdrawn, expired (and completed)

The owner may also record the target's answer straight from `requested` (say, after a phone
call), with evidence; and while `awaiting_consent`, reissue the consent link.
"""

from enum import StrEnum

from app.core.errors import Conflict


class State(StrEnum):
    requested = "requested"
    awaiting_consent = "awaiting_consent"
    consented = "consented"
    made = "made"
    completed = "completed"
    declined = "declined"
    withdrawn = "withdrawn"
    expired = "expired"


class Action(StrEnum):
    edit = "edit"
    request_consent = "request_consent"
    reissue_consent = "reissue_consent"
    accept = "accept"
    decline = "decline"
    make = "make"
    feedback = "feedback"
    withdraw = "withdraw"
    expire = "expire"


TRANSITIONS: dict[tuple[State, Action], State] = {
    (State.requested, Action.edit): State.requested,
    (State.requested, Action.request_consent): State.awaiting_consent,
    # A new link while the target has not answered: the old one stops working.
    (State.awaiting_consent, Action.reissue_consent): State.awaiting_consent,
    (State.requested, Action.accept): State.consented,
    (State.awaiting_consent, Action.accept): State.consented,
    (State.requested, Action.decline): State.declined,
    (State.awaiting_consent, Action.decline): State.declined,
    (State.consented, Action.make): State.made,
    (State.made, Action.feedback): State.completed,
    # The other side's feedback after the first one: recorded, state unchanged.
    (State.completed, Action.feedback): State.completed,
    (State.requested, Action.withdraw): State.withdrawn,
    (State.awaiting_consent, Action.withdraw): State.withdrawn,
    (State.consented, Action.withdraw): State.withdrawn,
    (State.awaiting_consent, Action.expire): State.expired,
}

ENDED = frozenset({State.completed, State.declined, State.withdrawn, State.expired})
# A pair (requester, target) may have one of these at a time.
OPEN = frozenset({State.requested, State.awaiting_consent, State.consented, State.made})

# Events for the change feed, by the state an introduction enters.
EVENT_TYPES = {
    State.requested: "introduction.requested",
    State.awaiting_consent: "introduction.consent_requested",
    State.consented: "introduction.consented",
    State.declined: "introduction.declined",
    State.made: "introduction.made",
    State.completed: "introduction.completed",
    State.withdrawn: "introduction.withdrawn",
    State.expired: "introduction.expired",
}

_WHY = {
    Action.edit: "it can be edited only while `requested`",
    Action.request_consent: (
        "consent can be requested only from `requested`, or its link reissued while "
        "`awaiting_consent`"
    ),
    Action.reissue_consent: "a consent link can be reissued only while `awaiting_consent`",
    Action.accept: "consent can be given only while `requested` or `awaiting_consent`",
    Action.decline: "consent can be declined only while `requested` or `awaiting_consent`",
    Action.make: "an introduction can be made only after the target consented",
    Action.feedback: "feedback can be recorded only once the introduction is made",
    Action.withdraw: "only an introduction not yet made can be withdrawn",
    Action.expire: "only a pending consent request expires",
}


class TransitionNotAllowed(Conflict):
    type, title = "transition-not-allowed", "Transition not allowed"


def allowed_from(action: Action) -> frozenset[State]:
    return frozenset(state for state, act in TRANSITIONS if act == action)


def next_state(state: State, action: Action) -> State:
    """The state `action` leads to from `state`, or TransitionNotAllowed saying why."""
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise TransitionNotAllowed(
            f"The introduction is `{state.value}`: {_WHY[action]}.",
            state=state.value,
            action=action.value,
        ) from None
