"""Action triggers: Segment's subscription syntax (the subset users write), table-tested."""

from __future__ import annotations

from typing import Any

import pytest
from intercom_destination.mapping.triggers import TriggerError, compile_trigger

TRACK = {
    "type": "track",
    "event": "Order Completed",
    "userId": "u-1",
    "properties": {"plan": "pro", "seats": 3, "trial": False, "ratio": 0.5, "empty": None},
    "traits": {"beta": True},
    "context": {"traits": {"email": "ada@example.com"}},
}


@pytest.mark.parametrize(
    ("trigger", "fires"),
    [
        ('type = "track"', True),
        ('type = "identify"', False),
        ('type != "identify"', True),
        ('event = "Order Completed"', True),
        ('event = "order completed"', False),  # case matters, as in Segment
        ('type = "track" and event = "Order Completed"', True),
        ('type = "track" and event = "Signed Up"', False),
        ('event = "Signed Up" or event = "Order Completed"', True),
        ('type = "identify" or type = "track" and event = "Nope"', False),  # and binds tighter
        ('(type = "identify" or type = "track") and event = "Order Completed"', True),
        ('properties.plan = "pro"', True),
        ("properties.seats = 3", True),
        ("properties.seats = 3.0", True),
        ('properties.seats = "3"', False),  # a string is not a number
        ("properties.ratio = 0.5", True),
        ("properties.trial = false", True),
        ("properties.trial = 0", False),  # false is not 0
        ("traits.beta = true", True),
        ("traits.beta = 1", False),
        ("properties.plan != null", True),
        ("properties.missing != null", False),
        ("properties.missing = null", True),
        ("properties.empty = null", True),  # null and missing are alike
        ("properties.empty != null", False),
        ('properties.missing != "x"', True),
        ('context.traits.email = "ada@example.com"', True),
        ('properties.plan.deeper = "x"', False),  # through a string: missing
        ('contains(event, "Completed")', True),
        ('contains(event, "completed")', False),
        ('contains(properties.seats, "3")', False),  # not a string
        ('match(event, "Order*")', True),
        ('match(event, "Order ?ompleted")', True),
        ('match(event, "Heartbeat*")', False),
        ('match(properties.missing, "*")', False),
        ('type = "track" and not_a_field = "x" or match(event, "*Completed")', True),
        (r'event = "Order \u0043ompleted"', True),
    ],
)
def test_trigger_table(trigger: str, fires: bool) -> None:
    assert compile_trigger(trigger)(TRACK) is fires


@pytest.mark.parametrize(
    ("trigger", "error"),
    [
        ("", "empty trigger at column 1"),
        ("   ", "empty trigger at column 1"),
        ("type", "expected '=' or '!=', found the end at column 5"),
        ('type == "track"', """expected a value ("text", a number, true, false or null), found '=' at column 7"""),
        ("type = track", """expected a value ("text", a number, true, false or null), found 'track' at column 8"""),
        ('type = "track', "unexpected '\"' at column 8"),
        ('type = "track" and', "expected a field such as type, event or properties.plan, found the end at column 19"),
        ('type = "track" event = "x"', "expected 'and', 'or' or the end, found 'event' at column 16"),
        ('(type = "track"', "expected ')', found the end at column 16"),
        ('type = "track")', "expected 'and', 'or' or the end, found ')' at column 15"),
        ('contains(event "x")', "expected ',', found '\"x\"' at column 16"),
        ("contains(event, x)", "expected a \"quoted string\", found 'x' at column 17"),
        ('match(, "x")', "expected a field, found ',' at column 7"),
        ('type ~ "track"', "unexpected '~' at column 6"),
        ('type = "a\\q"', "bad string: Invalid \\escape at column 8"),
        ('and = "x"', "expected a field, found 'and' at column 1"),
        ('true = "x"', "expected a field, found 'true' at column 1"),
        ('type = "track" or', "expected a field such as type, event or properties.plan, found the end at column 18"),
        ('type ( "x"', "expected '=' or '!=', found '(' at column 6"),
    ],
)
def test_trigger_errors_name_the_problem_and_column(trigger: str, error: str) -> None:
    with pytest.raises(TriggerError) as raised:
        compile_trigger(trigger)
    assert str(raised.value) == error


@pytest.mark.parametrize("event", [{}, {"type": None}, {"properties": "not an object"}, {"event": ["a"]}])
def test_a_trigger_never_raises_on_odd_events(event: dict[str, Any]) -> None:
    trigger = compile_trigger('type = "track" or properties.x != null or contains(event, "a") or match(event, "*")')
    assert trigger(event) is False
