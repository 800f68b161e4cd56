"""The unleash provider against the in-memory contract fake: fast checks of the mapping, the
order of calls, undo on partial failure, and refusals that send nothing.

The same behaviour against a real Unleash server is in test_unleash_provider.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.clock import ManualClock
from bot.domain.actor import Actor, Via
from bot.domain.constraints import Constraint, Segment
from bot.domain.flag import FlagChange, FlagDocument
from bot.providers.flags.base import FlagProviderError
from bot.providers.flags.unleash import UnleashFlagProvider
from bot.store import audit
from bot.store.database import Database
from tests.fakes.unleash_api import FakeUnleash

TOKEN = "*:*.fake-admin-secret"
ALICE = Actor("U0ALICE", Via.SLACK)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'rollbot.db'}")
    yield database
    database.dispose()


@pytest.fixture
def fake() -> FakeUnleash:
    return FakeUnleash(token=TOKEN)


# The example config's staff segment (config/rollbot.example.yaml's flags.segments.internal)
INTERNAL = Segment(
    description="staff accounts",
    constraints=[
        Constraint(context_name="email", operator="STR_ENDS_WITH", values=["@example.com"],
                   case_insensitive=True),
    ],
)  # fmt: skip


def provider(db: Database, fake: FakeUnleash, token: str = TOKEN) -> UnleashFlagProvider:
    return UnleashFlagProvider(
        db, ManualClock(), "http://unleash.test", token, "UNLEASH_TOKEN",
        environment="development", segments={"internal": INTERNAL},
        transport=fake.transport(), sleep=lambda _s: None,
    )  # fmt: skip


def change(**fields: object) -> FlagChange:
    return FlagChange.model_validate(fields)


def ours(fake: FakeUnleash, flag: str) -> dict[str, object]:
    strategies = fake.env(flag)["strategies"]
    assert len(strategies) == 1, strategies
    return dict(strategies[0])


def test_missing_flag_is_created_with_a_string_rollout_and_turned_on_last(
    db: Database, fake: FakeUnleash
) -> None:
    doc = provider(db, fake).apply("f1", change(enabled=True, rollout_percentage=5), ALICE)
    assert doc == FlagDocument(enabled=True, rollout_percentage=5)
    strategy = ours(fake, "f1")
    assert strategy["name"] == "flexibleRollout"
    assert strategy["parameters"] == {"rollout": "5", "stickiness": "default", "groupId": "f1"}
    assert fake.env("f1")["enabled"] is True
    assert fake.env("f1", "production")["enabled"] is False  # only the configured environment
    writes = [c for c in fake.calls if not c.startswith("GET")]
    assert writes == [
        "POST /api/admin/projects/default/features",
        "POST /api/admin/projects/default/features/f1/environments/development/strategies",
        "POST /api/admin/projects/default/features/f1/environments/development/on",
    ]
    with db.session() as s:
        (event,) = audit.events(s, subject_id="f1")
    assert (event.action, event.actor, event.before, event.detail) == (
        "flag.created", "U0ALICE", None, "provider=unleash",
    )  # fmt: skip
    assert event.after is not None and event.after["rollout_percentage"] == 5


def test_raising_the_percentage_puts_the_same_strategy(db: Database, fake: FakeUnleash) -> None:
    p = provider(db, fake)
    p.apply("f1", change(enabled=True, rollout_percentage=5), ALICE)
    first_id = ours(fake, "f1")["id"]
    fake.calls.clear()
    p.apply("f1", change(rollout_percentage=25), ALICE)
    assert ours(fake, "f1")["id"] == first_id
    assert ours(fake, "f1")["parameters"] == {
        "rollout": "25", "stickiness": "default", "groupId": "f1",
    }  # fmt: skip
    assert [c for c in fake.calls if not c.startswith("GET")] == [
        "PUT /api/admin/projects/default/features/f1/environments/development/strategies/"
        f"{first_id}"
    ]
    assert p.get("f1") == FlagDocument(enabled=True, rollout_percentage=25)


def test_disabling_turns_the_environment_off_before_touching_the_strategy(
    db: Database, fake: FakeUnleash
) -> None:
    p = provider(db, fake)
    p.apply("f1", change(enabled=True, rollout_percentage=50), ALICE)
    fake.calls.clear()
    p.apply("f1", change(enabled=False, rollout_percentage=0), ALICE)
    writes = [c.split("/")[-1] for c in fake.calls if not c.startswith("GET")]
    assert writes[0] == "off"
    assert fake.env("f1")["enabled"] is False
    assert ours(fake, "f1")["parameters"]["rollout"] == "0"  # type: ignore[index]


def test_user_segments_become_an_in_constraint_and_read_back(
    db: Database, fake: FakeUnleash
) -> None:
    p = provider(db, fake)
    p.apply("f1", change(enabled=True, rollout_percentage=5, user_segments=["beta"]), ALICE)
    assert ours(fake, "f1")["constraints"] == [
        {"contextName": "segment", "operator": "IN", "values": ["beta"],
         "caseInsensitive": False, "inverted": False},
    ]  # fmt: skip
    assert p.get("f1") == FlagDocument(enabled=True, rollout_percentage=5, user_segments=["beta"])
    p.apply("f1", change(user_segments=[]), ALICE)
    assert ours(fake, "f1")["constraints"] == []


def strategies(fake: FakeUnleash, flag: str) -> dict[str, dict[str, object]]:
    return {str(s["title"]): s for s in fake.env(flag)["strategies"]}


def test_segment_rollouts_become_strategies_of_their_own_and_read_back(
    db: Database, fake: FakeUnleash
) -> None:
    """The shipped plan's staff step: 0% for everyone, the internal segment at 100%."""
    p = provider(db, fake)
    p.apply("f1", change(enabled=False, rollout_percentage=0), ALICE)
    fake.calls.clear()
    staff = change(enabled=True, rollout_percentage=0, segment_rollouts={"internal": 100})
    assert p.apply("f1", staff, ALICE) == FlagDocument(
        enabled=True, rollout_percentage=0, segment_rollouts={"internal": 100}
    )
    by_title = strategies(fake, "f1")
    # ours ("None": untitled), and the segment's pair
    assert set(by_title) == {"None", "rollbot segment internal", "rollbot segment internal (named)"}
    params = {"rollout": "100", "stickiness": "default", "groupId": "f1"}
    defined = by_title["rollbot segment internal"]
    assert defined["parameters"] == params
    assert defined["constraints"] == [
        {"contextName": "email", "operator": "STR_ENDS_WITH", "values": ["@example.com"],
         "caseInsensitive": True, "inverted": False},
    ]  # fmt: skip
    named = by_title["rollbot segment internal (named)"]
    assert named["parameters"] == params
    assert named["constraints"] == [
        {"contextName": "segment", "operator": "IN", "values": ["internal"],
         "caseInsensitive": False, "inverted": False},
    ]  # fmt: skip
    assert by_title["None"]["parameters"]["rollout"] == "0"  # type: ignore[index]
    # The strategies are in place before the environment is switched on.
    writes = [c.rsplit("/", 1)[-1] for c in fake.calls if not c.startswith("GET")]
    assert writes == ["strategies", "strategies", "on"]
    assert p.get("f1") == FlagDocument(
        enabled=True, rollout_percentage=0, segment_rollouts={"internal": 100}
    )

    # 5% of everyone: staff stay, nothing is sent for them
    fake.calls.clear()
    p.apply("f1", change(rollout_percentage=5, segment_rollouts={"internal": 100}), ALICE)
    assert len([c for c in fake.calls if not c.startswith("GET")]) == 1  # ours, to 5%
    assert strategies(fake, "f1")["rollbot segment internal"]["parameters"] == params

    # A rollback: off first, then the segment strategies go
    fake.calls.clear()
    p.apply("f1", change(enabled=False, rollout_percentage=0, segment_rollouts={}), ALICE)
    writes = [c for c in fake.calls if not c.startswith("GET")]
    assert writes[0].endswith("/off") and sum(c.startswith("DELETE") for c in writes) == 2
    assert set(strategies(fake, "f1")) == {"None"}
    assert p.get("f1") == FlagDocument(enabled=False, rollout_percentage=0)


def test_a_segment_the_config_lacks_gets_only_the_named_strategy(
    db: Database, fake: FakeUnleash
) -> None:
    p = provider(db, fake)
    p.apply("f1", change(enabled=True, rollout_percentage=0, segment_rollouts={"beta": 25}),
            ALICE)  # fmt: skip
    by_title = strategies(fake, "f1")
    assert set(by_title) == {"None", "rollbot segment beta (named)"}
    assert by_title["rollbot segment beta (named)"]["parameters"]["rollout"] == "25"  # type: ignore[index]
    assert p.get("f1") == FlagDocument(
        enabled=True, rollout_percentage=0, segment_rollouts={"beta": 25}
    )


def test_a_failed_switch_on_removes_the_segment_strategies_again(
    db: Database, fake: FakeUnleash
) -> None:
    p = provider(db, fake)
    p.apply("f1", change(enabled=False, rollout_percentage=0), ALICE)
    fake.fail["POST /environments/development/on"] = [400]
    staff = change(enabled=True, rollout_percentage=0, segment_rollouts={"internal": 100})
    with pytest.raises(FlagProviderError, match="were undone"):
        p.apply("f1", staff, ALICE)
    assert set(strategies(fake, "f1")) == {"None"}
    assert fake.env("f1")["enabled"] is False
    assert p.get("f1") == FlagDocument(enabled=False, rollout_percentage=0)


@pytest.mark.parametrize("bad", [-1, 101, 150])
def test_out_of_range_is_refused_before_any_call(db: Database, fake: FakeUnleash, bad: int) -> None:
    # model_construct skips FlagChange's own validation: the provider must still refuse.
    with pytest.raises(FlagProviderError, match="out of range"):
        provider(db, fake).apply("f1", FlagChange.model_construct(rollout_percentage=bad), ALICE)
    assert fake.calls == []


def test_a_failed_switch_on_undoes_the_strategy_change(db: Database, fake: FakeUnleash) -> None:
    p = provider(db, fake)
    p.apply("f1", change(enabled=False, rollout_percentage=0), ALICE)
    fake.fail["POST /environments/development/on"] = [400]
    with pytest.raises(FlagProviderError) as caught:
        p.apply("f1", change(enabled=True, rollout_percentage=5), ALICE)
    assert "400" in str(caught.value) and "were undone" in str(caught.value)
    assert ours(fake, "f1")["parameters"]["rollout"] == "0"  # type: ignore[index]
    assert fake.env("f1")["enabled"] is False
    with db.session() as s:
        assert [e.action for e in audit.events(s, subject_id="f1")] == ["flag.created"]


def test_a_failed_first_strategy_post_is_reported_and_leaves_the_flag_off(
    db: Database, fake: FakeUnleash
) -> None:
    # 500 on a create is not retried: the strategy may exist, and a repeat would add another.
    fake.fail["POST /environments/development/strategies"] = [500, 500]
    with pytest.raises(FlagProviderError, match="500"):
        provider(db, fake).apply("f1", change(enabled=True, rollout_percentage=5), ALICE)
    assert (
        fake.calls.count(
            "POST /api/admin/projects/default/features/f1/environments/development/strategies"
        )
        == 1
    )
    assert fake.env("f1")["enabled"] is False


def test_5xx_on_a_put_is_retried_then_succeeds(db: Database, fake: FakeUnleash) -> None:
    p = provider(db, fake)
    p.apply("f1", change(enabled=True, rollout_percentage=5), ALICE)
    fake.fail["PUT "] = [503, 500]  # every PUT path; two failures, the third attempt works
    p.apply("f1", change(rollout_percentage=25), ALICE)
    assert ours(fake, "f1")["parameters"]["rollout"] == "25"  # type: ignore[index]


def test_a_bad_token_is_a_clear_error_that_never_shows_the_token(
    db: Database, fake: FakeUnleash
) -> None:
    with pytest.raises(FlagProviderError) as caught:
        provider(db, fake, token="wrong-secret").apply("f1", change(enabled=True), ALICE)
    text = str(caught.value)
    assert "401" in text and "UNLEASH_TOKEN" in text
    assert "wrong-secret" not in text and TOKEN not in text


def test_an_unconditional_default_strategy_is_refused_when_enabling(
    db: Database, fake: FakeUnleash
) -> None:
    fake.add_feature("f1")
    fake.env("f1")["strategies"].append(
        {"id": "s0", "name": "default", "parameters": {}, "constraints": [], "disabled": False}
    )
    with pytest.raises(FlagProviderError, match="default"):
        provider(db, fake).apply("f1", change(enabled=True, rollout_percentage=5), ALICE)
    assert [c for c in fake.calls if not c.startswith("GET")] == []


def test_get_reports_an_unknown_environment_by_name(db: Database, fake: FakeUnleash) -> None:
    fake.add_feature("f1")
    p = UnleashFlagProvider(
        db, ManualClock(), "http://unleash.test", TOKEN, "UNLEASH_TOKEN",
        environment="staging", transport=fake.transport(),
    )  # fmt: skip
    with pytest.raises(FlagProviderError, match=r"no environment 'staging'.*development"):
        p.get("f1")
    assert provider(db, fake).get("missing") is None


def test_a_hand_typed_out_of_range_rollout_reads_back_clamped(
    db: Database, fake: FakeUnleash
) -> None:
    fake.add_feature("f1")
    fake.env("f1")["strategies"].append(
        {"id": "s1", "name": "flexibleRollout", "constraints": [],
         "parameters": {"rollout": "150", "groupId": "f1", "stickiness": "default"}}
    )  # fmt: skip
    doc = provider(db, fake).get("f1")
    assert doc is not None and doc.rollout_percentage == 100


def test_timeouts_are_retried_only_for_requests_safe_to_repeat() -> None:
    from bot.providers.flags.remote import RemoteClient

    seen: list[str] = []

    def hangs(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        raise httpx.ReadTimeout("timed out", request=request)

    client = RemoteClient(
        "Unleash", "http://unleash.test", {"Authorization": TOKEN}, "UNLEASH_TOKEN", TOKEN,
        attempts=3, transport=httpx.MockTransport(hangs), sleep=lambda _s: None,
    )  # fmt: skip
    with pytest.raises(FlagProviderError, match=r"no answer within the timeout.*after 3 attempt"):
        client.request("GET", "/x")
    assert seen == ["GET"] * 3
    seen.clear()
    with pytest.raises(FlagProviderError, match=r"after 1 attempt"):
        client.request("POST", "/x", json={}, safe_to_repeat=False)
    assert seen == ["POST"]
    client.close()


def test_an_unknown_project_is_named_with_a_hint(db: Database, fake: FakeUnleash) -> None:
    p = UnleashFlagProvider(
        db, ManualClock(), "http://unleash.test", TOKEN, "UNLEASH_TOKEN",
        project="payments", environment="development", transport=fake.transport(),
    )  # fmt: skip
    with pytest.raises(FlagProviderError) as caught:
        p.apply("f1", change(enabled=True, rollout_percentage=5), ALICE)
    assert "404" in caught.value.message and "payments does not exist" in caught.value.message
    assert "project" in caught.value.hint
    with db.session() as s:
        assert audit.events(s, subject_id="f1") == []
