"""Sign-off events as data: what the rollout's thread keeps in its outbox reads back as it
was, and each event is worded as the service used to word it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.domain.actor import SCHEDULER, Actor, Via
from bot.domain.message import Sign
from bot.domain.roles import Role, RoleDirectory
from bot.domain.signoff import Chain, Gate, Rejection
from bot.services.events import Event, said_data, said_of
from bot.services.signoff import events
from bot.services.signoff.ports import Ask, AskStage, SignButton
from bot.slack.mrkdwn import mrkdwn
from bot.wording import WORDS, words
from bot.wording.signoff import (
    ask_headline,
    ask_note,
    chain_lines,
    metric_readings,
    open_checklists,
)

ENG = Actor("UENG", Via.SLACK)
FLAG = "realtime-features"
REJECTED = events.GateRejected(ENG, "Approval Chain", "Engineering Lead", "Load *tests* <red>")
TIMED_OUT = events.GateTimedOut("Approval Chain", timedelta(days=2, hours=3), owner="UALICE")
ASK = Ask(
    stage=AskStage.REMINDER,
    flag_key=FLAG,
    plan_title="Real-time Features migration",
    phase_name="Phase 1: Staging Deployment",
    step_name="Staging deployment",
    percentage=0,
    gate_title="Approval Chain",
    role_name="Security Lead",
    requester="UALICE",
    chain=events.ChainState(
        (
            events.ChainLine("Engineering Lead", events.RoleStatus.SIGNED, "UENG"),
            events.ChainLine("Security Lead", events.RoleStatus.WAITING),
            events.ChainLine("CTO", events.RoleStatus.NOT_ASKED),
        ),
        events.ChainRejection("UPM", "Product Manager", "no docs"),
    ),
    checklists=(
        events.OpenChecklist(
            "Code Readiness",
            4,
            11,
            (
                events.OpenItem("Security audit passed", "Security Lead"),
                events.OpenItem("Flag file present", "Operations Lead", "no such file"),
            ),
            more=5,
        ),
    ),
    button=SignButton(1, 0, 1793696400000, "security_lead"),
    reminders_sent=2,
    waited=timedelta(days=1, hours=4),
    metrics=(events.MetricReading("Error rate low", "0.0004"), events.MetricReading("Latency")),
)

# Every sign-off event, with its words as the service wrote them before they were events.
WORDED: list[tuple[Any, str]] = [
    (events.GateSigned(ENG, "Approval Chain", "Engineering Lead", False,
                       ("Product Manager", "CTO")),
     "@UENG signed Approval Chain as Engineering Lead. Next: Product Manager, CTO."),
    (events.GateSigned(SCHEDULER, "Approval Chain", "CTO", True),
     "rollbot signed Approval Chain as CTO. All signatures are in."),
    (events.SignedReply("Approval Chain", FLAG, "CTO"),
     "Signed: Approval Chain for realtime-features as CTO."),
    (events.AlreadySignedReply("Approval Chain", "CTO", datetime(2026, 11, 3, 9, 5, tzinfo=UTC)),
     "You already signed Approval Chain as CTO (2026-11-03 09:05 UTC); nothing more to do."),
    (events.AskSigned(ENG, "Engineering Lead"), "Signed by @UENG as Engineering Lead."),
    (events.AskClosed(events.NoLongerNeeded.ROLLED_BACK),
     "No longer needed: the rollout was rolled back; the chain starts again."),
    (events.AskClosed(events.NoLongerNeeded.COMPLETED),
     "No longer needed: the rollout is complete."),
    (events.AskClosed(events.NoLongerNeeded.MOVED),
     "No longer needed: this gate has passed or the step changed."),
    (REJECTED,
     "@UENG rejected Approval Chain as Engineering Lead: Load *tests* <red>. "
     "The rollout is paused."),
    (events.RejectionTold(FLAG, REJECTED),
     "Your rollout of realtime-features is paused: @UENG rejected Approval Chain as "
     "Engineering Lead: Load *tests* <red>. The rollout is paused. Fix what is asked, then "
     "/rollout resume realtime-features; Engineering Lead can then approve."),
    (events.RejectedReply("Approval Chain", FLAG, "UALICE"),
     "Rejected Approval Chain for realtime-features; the rollout is paused and the "
     "requester (@UALICE) has been told why."),
    (events.RejectPreview("Approval Chain", FLAG, "Security Lead", "alice"),
     "Rejecting Approval Chain for realtime-features as Security Lead pauses the rollout "
     "and tells alice why."),
    (events.SignoffEscalated("Approval Chain", FLAG, "Operations Lead",
                             events.RoleHolders(("UOPS",), "S123"), timedelta(days=2)),
     "Sign-off Approval Chain for realtime-features is waiting for Operations Lead "
     "(@UOPS, @S123) since 2d. Anyone holding the role: /approve realtime-features."),
    (events.SignoffEscalated("Approval Chain", FLAG, "Ops", events.RoleHolders(),
                             timedelta(hours=5)),
     "Sign-off Approval Chain for realtime-features is waiting for Ops "
     "(nobody yet (add members in the config)) since 5h. Anyone holding the role: "
     "/approve realtime-features."),
    (events.SignoffEscalated("Approval Chain", FLAG, "ops_lead", None, timedelta(hours=5)),
     "Sign-off Approval Chain for realtime-features is waiting for ops_lead (ops_lead) "
     "since 5h. Anyone holding the role: /approve realtime-features."),
    (events.GateTimedOut("Approval Chain", timedelta(days=2)),
     "Sign-off Approval Chain timed out after 2d without every signature; the rollout is "
     "paused (it never advances without them)."),
    (TIMED_OUT,
     "Sign-off Approval Chain timed out after 2d 3h without every signature; the rollout "
     "is paused (it never advances without them). Owner: @UALICE."),
    (events.TimeoutTold(TIMED_OUT),
     "Sign-off Approval Chain timed out after 2d 3h without every signature; the rollout "
     "is paused (it never advances without them). Owner: @UALICE."),
    (events.ItemChecked(ENG, "Load test passed", "Code Readiness"),
     "@UENG checked “Load test passed” (Code Readiness)."),
    (events.CheckedReply("Load test passed", FLAG),
     "Checked “Load test passed” for realtime-features."),
    (events.AlreadyCheckedReply("Load test passed", "UENG"),
     "“Load test passed” was already checked by @UENG."),
    (events.ProbeChanged(False, "error_rate = 0.2 > 0.01"),
     "Probe fails: error_rate = 0.2 > 0.01."),
    (events.ProbeChanged(True, "the flag is gone"), "Probe passes: the flag is gone."),
    (events.TaskReminder("Document lessons learned", "Retrospective", FLAG, False,
                         timedelta(days=1)),
     "Post-migration task Document lessons learned (Retrospective) of realtime-features is "
     "due in 1d. Check it with /approve checklist realtime-features once it is done."),
    (events.TaskReminder("Remove the flag", "Cleanup", FLAG, True, timedelta(hours=2)),
     "Post-migration task Remove the flag (Cleanup) of realtime-features was due 2h ago. "
     "Check it with /approve checklist realtime-features once it is done."),
    (events.SignoffChainNote("Approval Chain", True, ASK.chain),
     "Sign-off: Approval Chain (in order)\n"
     "Engineering Lead: signed by @UENG\n"
     "Security Lead: waiting for signature\n"
     "CTO: not yet asked\n"
     "Rejected by @UPM (Product Manager): no docs"),
    (events.SignoffChainNote(
        "Go", False, events.ChainState((events.ChainLine("CTO", events.RoleStatus.WAITING),))
    ),
     "Sign-off: Go (in any order)\nCTO: waiting for signature"),
    (events.ChecklistsHolding(ASK.checklists),
     "Checklists holding this gate:\n"
     "• Code Readiness: 4/11 done. Open: Security audit passed (Security Lead); "
     "Flag file present (Operations Lead, probe: no such file); and 5 more"),
    (events.OpenItemsHold(("Load test passed", "Runbook reviewed")),
     "open: “Load test passed”, “Runbook reviewed”"),
    (events.OpenItemsHold(("a", "b", "c", "d")), "4 checklist item(s) of this gate open"),
    (events.TasksDue(
        True, (events.TaskDue("Remove the flag", "Engineering Lead", timedelta(days=2)),), 2
    ),
     "3 post-migration task(s) overdue: “Remove the flag” (Engineering Lead, 2d overdue) "
     "and 2 more"),
    (events.TasksDue(False, (events.TaskDue("Retro", "CTO", timedelta(hours=5)),
                             events.TaskDue("Docs", "Product Manager", timedelta(days=1)))),
     "Due soon: “Retro” (CTO, due in 5h); “Docs” (Product Manager, due in 1d)"),
    (events.TasksOpen(2, "Team retrospective", timedelta(days=6)),
     "2 post-migration task(s) open; next due Team retrospective in 6d."),
]  # fmt: skip


@pytest.mark.parametrize(("said", "plain"), WORDED, ids=lambda x: type(x).__name__)
def test_each_event_is_worded_as_the_service_worded_it(said: Event, plain: str) -> None:
    assert words(said).plain() == plain


@pytest.mark.parametrize("said", [*(s for s, _ in WORDED), ASK], ids=lambda x: type(x).__name__)
def test_each_event_reads_back_from_its_row_as_it_was(said: Event) -> None:
    assert said_of(said_data(said)) == said


def test_every_sign_off_event_has_words_and_a_sample() -> None:
    kinds = {type(s) for s, _ in WORDED} | {Ask}
    mine = {cls for cls in WORDS if cls.__module__.startswith("bot.services.signoff")}
    assert mine == kinds


def test_the_ask_is_worded_line_by_line_as_before() -> None:
    assert ask_headline(ASK).plain() == (
        "Reminder: your sign-off as Security Lead is needed for realtime-features (Approval Chain)"
    )
    assert ask_note(ASK) == "Reminder 2: asked 1d 4h ago."
    escalated = Ask(**{**ASK.__dict__, "stage": AskStage.ESCALATION})
    assert ask_headline(escalated).plain().startswith("Escalated: your sign-off as ")
    assert ask_note(escalated) == "Escalated: Security Lead has not signed in 1d 4h."
    first = Ask(**{**ASK.__dict__, "stage": AskStage.ASK})
    assert ask_note(first) == ""
    assert ask_headline(first).plain().startswith("your sign-off as Security Lead")
    chain = chain_lines(ASK.chain)
    assert chain.plain() == (
        "Engineering Lead: signed by @UENG\n"
        "Security Lead: waiting for signature\n"
        "CTO: not yet asked\n"
        "Rejected by @UPM (Product Manager): no docs"
    )
    assert chain.parts[0] is Sign.OK
    assert open_checklists(ASK.checklists) == (
        "• Code Readiness: 4/11 done. Open: Security audit passed (Security Lead); "
        "Flag file present (Operations Lead, probe: no such file); and 5 more"
    )
    assert open_checklists(()) == "All required items done."
    assert metric_readings(ASK.metrics) == ("• Error rate low: 0.0004\n• Latency: not measured yet")
    assert "Reminder 2: asked 1d 4h ago." in words(ASK)


def test_user_text_stays_a_plain_part_for_the_adapters_to_escape() -> None:
    assert "Load *tests* <red>" in words(REJECTED).parts
    assert "Load *tests* <red>" in words(events.RejectionTold(FLAG, REJECTED)).parts
    assert "<b>bad</b>" in words(events.ProbeChanged(False, "<b>bad</b>")).parts


def test_a_chain_is_worded_from_its_state_with_its_open_rejection() -> None:
    directory = RoleDirectory(roles={"eng": Role("eng", "Engineering Lead", ("UENG",))})
    rejection = Rejection("eng", "UENG", datetime(2026, 11, 2, 9, 0, tzinfo=UTC), "tests red")
    chain = Chain(Gate(id="launch", name="Launch", roles=["eng"]), {}, (rejection,))
    worded = mrkdwn(chain_lines(events.chain_state(chain, directory)))
    assert "Rejected by <@UENG> (Engineering Lead): tests red" in worded


def test_the_card_notes_keep_plan_text_plain_for_the_adapters_to_escape() -> None:
    assert "open: “<b>x</b>”" in words(events.OpenItemsHold(("<b>x</b>",))).parts
    assert "&lt;!here&gt;" in mrkdwn(
        words(events.SignoffChainNote("<!here>", True, events.ChainState(())))
    )
