"""The card's Advance button names what the next step does, segments included."""

from __future__ import annotations

from bot.domain.plan import Step
from bot.services.rollouts.views import BUTTON_LABEL_LIMIT, advance_label


def test_a_step_for_everyone_names_its_percentage() -> None:
    assert advance_label(Step(name="five", percentage=5)) == "Advance to 5%"


def test_a_step_that_sets_segments_names_them() -> None:
    staff = Step(name="staff", percentage=0, segments={"internal": 100})
    assert advance_label(staff) == "Advance to 0% (internal 100%)"
    both = Step(name="both", percentage=5, segments={"internal": 100, "beta": 25})
    assert advance_label(both) == "Advance to 5% (beta 25%, internal 100%)"


def test_too_many_segments_for_a_button_are_summed_up() -> None:
    many = Step(name="many", percentage=0, segments={f"segment-{i}": 50 for i in range(8)})
    label = advance_label(many)
    assert label == "Advance to 0% (segments)"
    assert len(label) <= BUTTON_LABEL_LIMIT == 75
