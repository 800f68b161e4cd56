"""Roles and permissions: who may start, advance, pause, set and roll back."""

from __future__ import annotations

import pytest

from bot.domain.roles import Forbidden, Role, RoleDirectory
from bot.slack.mrkdwn import mrkdwn

DIRECTORY = RoleDirectory(
    roles={
        "eng_lead": Role("eng_lead", "Engineering Lead", ("UENG",)),
        "ops_lead": Role("ops_lead", "Operations Lead", ("UOPS",), usergroup="SOPS"),
    },
    permissions={"advance": ("eng_lead", "ops_lead"), "rollback": ("ops_lead",)},
)


def test_an_action_without_permissions_is_open_to_everyone() -> None:
    DIRECTORY.check("USTRANGER", "pause")


def test_a_member_of_an_allowed_role_may_act() -> None:
    DIRECTORY.check("UENG", "advance")
    DIRECTORY.check("UOPS", "rollback")


def test_a_user_group_member_holds_the_role() -> None:
    DIRECTORY.check("UGROUPIE", "rollback", {"SOPS": ["UGROUPIE"]})
    assert [r.id for r in DIRECTORY.roles_of("UGROUPIE", {"SOPS": ["UGROUPIE"]})] == ["ops_lead"]


def test_a_refusal_names_the_role_needed_and_who_holds_it() -> None:
    with pytest.raises(Forbidden) as caught:
        DIRECTORY.check("UENG", "rollback", what="Rolling back")
    assert caught.value.message == (
        "Rolling back needs the role Operations Lead, and you do not hold it."
    )
    hint = mrkdwn(caught.value.hint)
    assert "<@UOPS>" in hint and "<!subteam^SOPS>" in hint


def test_a_refusal_lists_every_allowed_role() -> None:
    with pytest.raises(Forbidden) as caught:
        DIRECTORY.check("USTRANGER", "advance")
    assert "Engineering Lead or Operations Lead" in caught.value.message
