"""Segments, variants and evaluation of the flag document (bot/domain)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.domain.constraints import Constraint, Context, Segment, matches
from bot.domain.evaluation import Reason, evaluate_flag
from bot.domain.flag import FlagDocument, parse_flag_change
from bot.domain.variants import Variant, variant_for

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SEGMENTS = {
    "internal": Segment(
        constraints=[
            Constraint(
                context_name="email",
                operator="STR_ENDS_WITH",
                values=["@example.com"],
                case_insensitive=True,
            )
        ]
    ),
    "beta": Segment(
        constraints=[
            Constraint(context_name="country", operator="IN", values=["CA"]),
            Constraint(context_name="appVersion", operator="SEMVER_GTE", value="2.0.0"),
        ]
    ),
}


def ctx(user: str | None = "u1", **fields: Any) -> Context:
    return Context(user, fields)


def test_segment_needs_every_constraint() -> None:
    beta = SEGMENTS["beta"]
    assert beta.matches(ctx(country="CA", appVersion="2.1.0"), NOW)
    assert not beta.matches(ctx(country="CA", appVersion="1.9.0"), NOW)
    assert not beta.matches(ctx(country="FR", appVersion="2.1.0"), NOW)
    assert not beta.matches(ctx(country="CA"), NOW)


@pytest.mark.parametrize(
    ("constraint", "fields", "expected"),
    [
        ({"operator": "NOT_IN", "values": ["a"]}, {}, True),
        ({"operator": "IN", "values": ["a"], "inverted": True}, {"f": "a"}, False),
        ({"operator": "STR_CONTAINS", "values": ["X"]}, {"f": "axb"}, False),
        (
            {"operator": "STR_CONTAINS", "values": ["X"], "caseInsensitive": True},
            {"f": "axb"},
            True,
        ),
        ({"operator": "NUM_GT", "value": "5"}, {"f": 6}, True),
        ({"operator": "NUM_LTE", "value": "5"}, {"f": "five"}, False),
        ({"operator": "DATE_AFTER", "value": "2026-11-30T00:00:00Z"}, {}, True),
        ({"operator": "DATE_BEFORE", "value": "2026-11-30T00:00:00Z"}, {}, False),
        ({"operator": "SEMVER_LT", "value": "2.0.0"}, {"f": "2.0.0-rc.1"}, True),
        ({"operator": "IN", "values": ["true"]}, {"f": True}, True),
    ],
)
def test_operators(constraint: dict[str, Any], fields: dict[str, Any], expected: bool) -> None:
    c = Constraint.model_validate({"contextName": "f", **constraint})
    assert matches(c, Context("u", fields), NOW) is expected


@pytest.mark.parametrize(
    "constraint",
    [
        {"operator": "REGEX", "values": ["a"]},
        {"operator": "NUM_EQ", "value": "ten"},
        {"operator": "SEMVER_EQ", "value": "v1.0.0"},
        {"operator": "DATE_AFTER", "value": "tomorrow"},
        {"operator": "NUM_EQ"},
        {"operator": "IN", "value": "a"},
    ],
)
def test_constraints_rollbot_cannot_read_are_refused(constraint: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Constraint.model_validate({"contextName": "f", **constraint})


def test_the_largest_percentage_that_applies_wins() -> None:
    doc = FlagDocument(enabled=True, rollout_percentage=5, segment_rollouts={"internal": 100})
    staff = evaluate_flag(doc, "rt", ctx(email="a@EXAMPLE.com"), SEGMENTS, NOW)
    assert (staff.enabled, staff.reason, staff.segment) == (
        True,
        Reason.TARGETING_MATCH,
        "internal",
    )
    users = [f"user-{i}" for i in range(2000)]
    on = [u for u in users if evaluate_flag(doc, "rt", ctx(u), SEGMENTS, NOW).enabled]
    assert 60 < len(on) < 140  # about 5%
    assert {evaluate_flag(doc, "rt", ctx(u), SEGMENTS, NOW).reason for u in users} == {Reason.SPLIT}


def test_raising_any_percentage_never_turns_a_user_off() -> None:
    users = [f"user-{i}" for i in range(1000)]
    before = FlagDocument(enabled=True, rollout_percentage=5, segment_rollouts={"beta": 20})
    after = FlagDocument(enabled=True, rollout_percentage=25, segment_rollouts={"beta": 60})
    for u in users:
        c = ctx(u, country="CA", appVersion="3.0.0")
        if evaluate_flag(before, "rt", c, SEGMENTS, NOW).enabled:
            assert evaluate_flag(after, "rt", c, SEGMENTS, NOW).enabled, u


def test_user_segments_restrict_the_plain_percentage() -> None:
    doc = FlagDocument(enabled=True, rollout_percentage=100, user_segments=["beta"])
    assert not evaluate_flag(doc, "rt", ctx(), SEGMENTS, NOW).enabled
    assert evaluate_flag(doc, "rt", Context("u1", {}, ("beta",)), SEGMENTS, NOW).enabled
    matched = ctx(country="CA", appVersion="2.0.0")
    assert evaluate_flag(doc, "rt", matched, SEGMENTS, NOW).reason is Reason.TARGETING_MATCH


def test_disabled_and_static() -> None:
    off = FlagDocument(enabled=False, rollout_percentage=100)
    assert evaluate_flag(off, "rt", ctx(), SEGMENTS, NOW).reason is Reason.DISABLED
    everyone = FlagDocument(enabled=True, rollout_percentage=100)
    r = evaluate_flag(everyone, "rt", ctx(), SEGMENTS, NOW)
    assert (r.enabled, r.reason, r.variant) == (True, Reason.STATIC, "on")


def variant_name(variants: list[Variant], user: str | None, **fields: Any) -> str | None:
    chosen = variant_for(variants, "rt", ctx(user, **fields))
    return None if chosen is None else chosen.name


def test_variants_split_by_weight_and_stick() -> None:
    variants = [Variant(name="control", weight=50), Variant(name="realtime", weight=50)]
    counts = Counter(variant_name(variants, f"user-{i}") for i in range(4000))
    assert set(counts) == {"control", "realtime"}
    assert abs(counts["control"] - 2000) < 200
    assert variant_name(variants, "user-7") == variant_name(variants, "user-7")
    # Out of 100 or out of 1000: the same users get the same variant.
    thousand = [Variant(name="control", weight=500), Variant(name="realtime", weight=500)]
    assert all(
        variant_name(variants, f"u{i}") == variant_name(thousand, f"u{i}") for i in range(500)
    )


def test_a_variant_hands_its_payload_to_the_users_it_picks() -> None:
    doc = FlagDocument.model_validate(
        {
            "enabled": True,
            "rollout_percentage": 100,
            "variants": [
                {"name": "control", "weight": 50, "payload": {"type": "string", "value": "poll"}},
                {
                    "name": "realtime",
                    "weight": 50,
                    "payload": {"type": "json", "value": '{"ws":1}'},
                },
            ],
        }
    )
    payloads = {"control": ("string", "poll"), "realtime": ("json", '{"ws":1}')}
    for i in range(200):
        r = evaluate_flag(doc, "rt", ctx(f"user-{i}"), SEGMENTS, NOW)
        assert r.payload is not None
        assert (r.payload.type, r.payload.value) == payloads[r.variant]
    off = evaluate_flag(doc.model_copy(update={"enabled": False}), "rt", ctx(), SEGMENTS, NOW)
    assert (off.variant, off.payload) == ("off", None)


def test_overrides_pick_the_variant_before_the_hashing() -> None:
    variants = [
        Variant.model_validate(
            {
                "name": "control",
                "weight": 50,
                "overrides": [{"contextName": "userId", "values": ["7"]}],
            }
        ),
        Variant.model_validate(
            {
                "name": "realtime",
                "weight": 50,
                "overrides": [{"contextName": "country", "values": ["NZ"]}],
            }
        ),
    ]
    plain = [Variant(name="control", weight=50), Variant(name="realtime", weight=50)]
    # users the hashing alone sends to the other arm are still overridden
    hashed_control = next(u for u in map(str, range(100)) if variant_name(plain, u) == "control")
    assert variant_name(plain, "7") == "realtime"
    assert variant_name(variants, hashed_control, country="NZ") == "realtime"
    assert variant_name(variants, "7") == "control"
    assert variant_name(variants, None, country="NZ") == "realtime"  # no user id needed
    assert variant_name(variants, None) is None
    # the first matching variant wins, as in Unleash's SDKs
    assert variant_name(variants, "7", country="NZ") == "control"
    doc = FlagDocument(enabled=True, rollout_percentage=0, variants=variants)
    assert not evaluate_flag(doc, "rt", ctx("7"), SEGMENTS, NOW).enabled  # never turns it on


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"variants": [{"name": "a", "weight": 50}, {"name": "b", "weight": 40}]}, "variants"),
        ({"variants": [{"name": "a", "weight": 50}, {"name": "a", "weight": 50}]}, "variants"),
        ({"variants": [{"name": "a b", "weight": 100}]}, "variants.0.name"),
        ({"variants": [{"name": "off", "weight": 100}]}, "variants.0.name"),
        ({"variants": [{"name": "a", "weight": "100"}]}, "variants.0.weight"),
        ({"variants": [{"name": "a", "weight": 100, "payload": 1}]}, "variants.0.payload"),
        (
            {"variants": [{"name": "a", "weight": 100, "payload": {"type": "yaml", "value": ""}}]},
            "variants.0.payload.type",
        ),
        (
            {"variants": [{"name": "a", "weight": 100, "payload": {"type": "json", "value": "{"}}]},
            "variants.0.payload.value",
        ),
        (
            {
                "variants": [
                    {"name": "a", "weight": 100, "payload": {"type": "number", "value": "x"}}
                ]
            },
            "variants.0.payload.value",
        ),
        (
            {"variants": [{"name": "a", "weight": 100, "payload": {"type": "string", "value": 1}}]},
            "variants.0.payload.value",
        ),
        (
            {"variants": [{"name": "a", "weight": 100, "overrides": [{"values": ["u"]}]}]},
            "variants.0.overrides.0.contextName",
        ),
        (
            {
                "variants": [
                    {
                        "name": "a",
                        "weight": 100,
                        "overrides": [{"contextName": "userId", "values": []}],
                    }
                ]
            },
            "variants.0.overrides.0.values",
        ),
        ({"segment_rollouts": {"beta": 101}}, "segment_rollouts"),
        ({"segment_rollouts": {"beta": "5"}}, "segment_rollouts.beta"),
        ({"segment_rollouts": {"bad name": 5}}, "segment_rollouts"),
        ({"segment_rollouts": []}, "segment_rollouts"),
    ],
)
def test_bad_names_and_weights_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_flag_change(body)
    assert str(info.value).startswith(f"{field}: ")
