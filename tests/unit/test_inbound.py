"""Request-level handling: body decoding (gzip with a cap), auth forms, batch splitting."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest
from intercom_destination.intake.inbound import (
    Caller,
    RawRequest,
    RequestError,
    authenticate,
    decode_body,
    presented_keys,
    split_items,
)


def raw(body: bytes, headers: dict[str, str] | None = None, *, b64: bool = True) -> RawRequest:
    encoded = base64.b64encode(body).decode() if b64 else body.decode()
    return RawRequest(body=encoded, is_base64_encoded=b64, headers=headers or {})


def refused(call: Any, *args: Any, **kwargs: Any) -> RequestError:
    with pytest.raises(RequestError) as raised:
        call(*args, **kwargs)
    return raised.value


def test_plain_and_gzip_bodies_decode() -> None:
    body = b'{"batch": []}'
    assert decode_body(raw(body, b64=False), 1000) == body
    assert decode_body(raw(gzip.compress(body), {"content-encoding": "gzip"}), 1000) == body


def test_gzip_bomb_is_refused_without_inflating_it() -> None:
    bomb = gzip.compress(b"0" * 50_000_000)
    error = refused(decode_body, raw(bomb, {"content-encoding": "gzip"}), 512_000)
    assert (error.status, error.code) == (413, "payload_too_large")


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"x" * 1001, {}, 413),
        (b"not gzip", {"content-encoding": "gzip"}, 400),
        (b"{}", {"content-encoding": "br"}, 415),
    ],
)
def test_bad_bodies(body: bytes, headers: dict[str, str], status: int) -> None:
    assert refused(decode_body, raw(body, headers), 1000).status == status


def basic(user: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("headers", "body", "keys"),
    [
        ({"authorization": basic("wk")}, {}, ["wk"]),
        ({"authorization": "Basic " + base64.b64encode(b"wk").decode()}, {}, ["wk"]),
        ({"authorization": "Bearer sk_live_1"}, {}, ["sk_live_1"]),
        ({}, {"writeKey": "body-key"}, ["body-key"]),
        ({"authorization": basic("wk")}, {"writeKey": "other"}, ["wk", "other"]),
        ({"authorization": "Basic !!!"}, {}, []),
        ({"authorization": "Token abc"}, {}, []),
        ({}, {"writeKey": 123}, []),
    ],
)
def test_presented_keys(headers: dict[str, str], body: dict[str, Any], keys: list[str]) -> None:
    assert presented_keys(headers, body) == keys


def test_authenticate_accepts_any_configured_key_and_refuses_others() -> None:
    assert authenticate(["new"], ("old", "new")) == Caller("new")
    assert authenticate(["bad", "old"], ("old", "new")) == Caller("old")
    # A key marked :browser in WRITE_KEYS is presented bare; the mark only scopes what it may do.
    assert authenticate(["pk-1"], ("old", "pk-1:browser")) == Caller("pk-1", browser=True)
    with pytest.raises(RequestError):
        authenticate(["pk-1:browser"], ("pk-1:browser",))
    for presented in ([], ["wrong"], [""]):
        error = refused(authenticate, presented, ("old", "new"))
        assert (error.status, error.code) == (401, "unauthorized")


def test_batch_defaults_are_merged_into_items_and_write_key_stripped() -> None:
    body = {
        "batch": [
            {"type": "track", "event": "a", "context": {"ip": "1.1.1.1"}},
            {"type": "track", "event": "b", "integrations": {"Intercom": False}, "writeKey": "secret"},
        ],
        "context": {"library": {"name": "x"}, "ip": "0.0.0.0"},
        "integrations": {"All": True},
        "sentAt": "2026-11-20T10:00:00Z",
        "writeKey": "secret",
    }
    items = split_items("batch", body, 32_768, 100)
    assert items[0].data["context"] == {"library": {"name": "x"}, "ip": "1.1.1.1"}
    assert items[0].data["sentAt"] == "2026-11-20T10:00:00Z"
    assert items[1].data["integrations"] == {"All": True, "Intercom": False}
    assert "writeKey" not in items[1].data
    assert items[1].size == len(json.dumps(items[1].data, separators=(",", ":")))


def test_single_call_paths_imply_the_type_and_refuse_a_mismatch() -> None:
    (item,) = split_items("t", {"event": "x", "userId": "u"}, 32_768, 100)
    assert item.data["type"] == "track"
    assert refused(split_items, "identify", {"type": "track"}, 32_768, 100).status == 400


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("batch", {"batch": {"type": "track"}}, 400),
        ("batch", {}, 400),
        ("batch", {"batch": [{}] * 3}, 413),
        ("track", {"event": "x" * 40_000}, 413),
    ],
)
def test_refused_requests(path: str, body: dict[str, Any], status: int) -> None:
    assert refused(split_items, path, body, 32_768, 2).status == status
