"""A person's keys are stored hashed in retained queues and tables (message groups, person records,
tombstones, claims' person tags): these are the exact strings and hashes written before person.py
gathered them, so data written by earlier versions is still found."""

from __future__ import annotations

from intercom_destination.person import (
    anonymous_subject,
    email_key,
    hashed,
    person_group,
    person_ids,
    person_names,
    primary_name,
    user_subject,
)

VISITOR_TURNED_USER = {
    "type": "identify",
    "userId": "u-1",
    "anonymousId": "a-1",
    "traits": {"email": " Ada@Example.com "},
}


def test_names_and_subjects_keep_their_stored_spelling() -> None:
    assert person_names(VISITOR_TURNED_USER) == ["userId:u-1", "anonymousId:a-1", "email:ada@example.com"]
    assert primary_name(person_names(VISITOR_TURNED_USER)) == "userId:u-1"
    assert person_ids(VISITOR_TURNED_USER) == ["userId:u-1", "email:ada@example.com"]
    assert person_names({"type": "alias", "userId": "u-1", "previousId": "a-0"}) == ["userId:u-1", "anonymousId:a-0"]
    assert (user_subject("u-1"), anonymous_subject("a-1"), email_key("A@B.c ")) == (
        "user:u-1",
        "anonymous:a-1",
        "email:a@b.c",
    )


def test_the_hashes_are_the_ones_earlier_versions_stored() -> None:
    assert person_group("userId:u-1") == "7835b128699f842fe0c4a21fec763564a677a2338f0839a58cf33d562ccafc8f"
    assert hashed("email:ada@example.com") == "9b62a3a2bce7c868f30d60f0818e84d2"


def test_a_groups_email_is_the_companys_not_the_persons() -> None:
    group = {"type": "group", "userId": "u-1", "groupId": "g", "traits": {"email": "billing@acme.example"}}
    assert person_names(group) == ["userId:u-1"]
