"""The state machine itself, without a database."""

import pytest

from app.introductions.workflow import (
    ENDED,
    TRANSITIONS,
    Action,
    State,
    TransitionNotAllowed,
    allowed_from,
    next_state,
)


def test_the_happy_path():
    state = State.requested
    for action in (Action.request_consent, Action.accept, Action.make, Action.feedback):
        state = next_state(state, action)
    assert state == State.completed


def test_make_needs_consent_first():
    for state in State:
        if state != State.consented:
            with pytest.raises(TransitionNotAllowed) as refused:
                next_state(state, Action.make)
            assert "consented" in refused.value.detail
    assert allowed_from(Action.make) == {State.consented}


def test_ended_introductions_only_take_late_feedback():
    for state in ENDED:
        moves = {action for (source, action) in TRANSITIONS if source == state}
        assert moves <= {Action.feedback}
        for target in (next_state(state, a) for a in moves):
            assert target == state


def test_a_consent_link_is_reissued_only_while_awaiting_consent():
    assert allowed_from(Action.reissue_consent) == {State.awaiting_consent}
    assert next_state(State.awaiting_consent, Action.reissue_consent) == State.awaiting_consent
    with pytest.raises(TransitionNotAllowed) as refused:
        next_state(State.consented, Action.request_consent)
    assert "reissued while `awaiting_consent`" in refused.value.detail


def test_only_unmade_introductions_can_be_withdrawn():
    assert allowed_from(Action.withdraw) == {
        State.requested,
        State.awaiting_consent,
        State.consented,
    }


def test_refusal_says_why_and_where():
    with pytest.raises(TransitionNotAllowed) as refused:
        next_state(State.declined, Action.request_consent)
    assert refused.value.status == 409
    assert refused.value.extra == {"state": "declined", "action": "request_consent"}
    assert "`declined`" in refused.value.detail


def test_every_state_is_reachable_from_requested():
    reached, frontier = {State.requested}, [State.requested]
    while frontier:
        state = frontier.pop()
        for (source, _), target in TRANSITIONS.items():
            if source == state and target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(State)
