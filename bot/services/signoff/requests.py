"""Asking for sign-offs: open a gate when its step is reached, ask the next signer(s) by
direct message, remind, escalate, and pause the rollout when a gate times out.

The durable truth is in the database: a gate visit row per opened gate and a request row
per role asked, with when its next ask / reminder / escalation is due. The scheduler tick
and every rollout change call `sync` and `deliver`; due work is claimed with a row lock
and its next due time moved on *before* the message goes out (and put back if sending
fails), so a restart neither loses nor repeats a reminder and two replicas send it once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.domain.actor import SCHEDULER
from bot.domain.durations import parse_duration
from bot.domain.rollout import RolloutState
from bot.services.rollouts.reading import Outcome
from bot.services.signoff.chain import SignoffChain, gate_of, visit_ms
from bot.services.signoff.context import SignoffContext
from bot.services.signoff.events import (
    AskClosed,
    NoLongerNeeded,
    RoleHolders,
    SignoffEscalated,
    chain_state,
    metric_readings,
    open_checklists,
)
from bot.services.signoff.ports import Ask, AskStage, MessageRef, SignButton, close_quietly
from bot.services.signoff.timeouts import GateTimeouts
from bot.store import audit, rollouts, signoffs
from bot.store.models import RolloutRow
from bot.store.signoff_models import SignoffRequestRow

log = logging.getLogger(__name__)

RETRY_AFTER_FAILURE = timedelta(minutes=1)


@dataclass(frozen=True)
class _Send:
    """A message to send after the claim committed."""

    request_id: int
    kind: AskStage
    users: list[str]
    ask: Ask
    channel_text: SignoffEscalated | None = None  # escalation to the rollout's channel
    rollout_id: int = 0


class SignoffRequests:
    """Opens gates, asks, reminds, escalates and times out."""

    def __init__(self, context: SignoffContext, chain: SignoffChain) -> None:
        self.context = context
        self.chain = chain
        self.db = context.db
        self.clock = context.clock
        self.config = context.config
        self.timeouts = GateTimeouts(context)

    # -- entry points --------------------------------------------------------------------

    def on_changes(self, outcomes: list[Outcome]) -> None:
        """After rollout changes (one, or a scheduler tick's many): sync the rollouts that
        are at a gate or still have an open visit or request (the others have nothing to
        open or close), then send what is due now, once."""
        with self.db.read() as s:
            busy = signoffs.with_open_work(s, [o.view.id for o in outcomes])
        for outcome in outcomes:
            view = outcome.view
            at_gate = view.plan is None or (  # without its plan, sync to be sure
                view.state in (RolloutState.RUNNING, RolloutState.PAUSED)
                and gate_of(view.plan, view.step_number - 1) is not None
            )
            if view.id in busy or at_gate:
                self.sync(view.id)
        self.deliver()

    def tick(self) -> None:
        """The scheduler's pass: every active rollout synced, then timeouts and messages."""
        with self.db.session() as s:
            ids = {r.id for r in rollouts.active(s) if r.id is not None}
            # Finished rollouts too, while they have open requests (their DMs go stale).
            ids |= set(signoffs.rollouts_with_open_requests(s))
        for rollout_id in sorted(ids):
            self.sync(rollout_id)
        self.timeouts.time_out()
        self.deliver()

    # -- gates and requests --------------------------------------------------------------

    def sync(self, rollout_id: int) -> None:
        """Bring the rollout's gate visit and requests in line with its current step."""
        now = self.clock.now()
        closing: list[tuple[MessageRef, NoLongerNeeded]] = []
        with self.db.session() as s:
            row = rollouts.by_id(s, rollout_id, for_update=True)
            if row is None:
                return
            current = self.chain.current(s, row)
            key = signoffs.visit_key(rollout_id, row.step_index, row.step_started_at)
            why = _closed_reason(row.state)
            for visit in signoffs.gate_visits(s, rollout_id):
                if visit.closed_at is None and (current is None or visit.visit_key != key):
                    visit.closed_at = now
                    signoffs.save(s, visit)
            next_roles: list[str] = []
            if current is not None:
                _plan, gate, chain = current
                found = signoffs.gate_visit(s, key)
                if found is None:
                    timeout = gate.timeout_delta
                    found = signoffs.open_gate_visit(
                        s,
                        key=key,
                        rollout_id=rollout_id,
                        step_index=row.step_index,
                        entered_at=row.step_started_at,
                        gate_id=gate.id,
                        opened_at=now,
                        timeout_at=now + timeout if timeout else None,
                    )
                if chain.complete and found.passed_at is None:
                    found.passed_at = now
                    signoffs.save(s, found)
                next_roles = [] if chain.complete else chain.next_roles()
                if row.state == RolloutState.PAUSED.value:
                    next_roles = []  # nobody is asked while the rollout is held
                self.context.checklists.ensure_probe_rows(s, row, now)
            for request in signoffs.open_requests(s, rollout_id):
                if request.request_key.startswith(key + ":") and request.role_id in next_roles:
                    continue
                if row.state == RolloutState.PAUSED.value and request.request_key.startswith(
                    key + ":"
                ):
                    request.next_at = None  # kept open; asked again when resumed
                    signoffs.save(s, request)
                    continue
                request.closed_at, request.next_at = now, None
                signoffs.save(s, request)
                closing.extend((ref, why) for ref in request.messages)
            for role_id in next_roles:
                request_key = f"{key}:{role_id}"
                existing = signoffs.request(s, request_key)
                if existing is None:
                    signoffs.add_request(
                        s,
                        key=request_key,
                        rollout_id=rollout_id,
                        step_index=row.step_index,
                        entered_at=row.step_started_at,
                        gate_id=current[1].id if current else "",
                        role_id=role_id,
                        created_at=now,
                    )
                elif existing.closed_at is None and existing.next_at is None:
                    existing.next_at = self._next_due(existing, now)  # resumed
                    signoffs.save(s, existing)
        for ref, why in closing:
            close_quietly(self.context.notifier, ref, AskClosed(why))

    def _next_due(self, request: SignoffRequestRow, now: datetime) -> datetime:
        if request.asked_at is None:
            return now
        remind_after = parse_duration(self.config.remind_after)
        every = parse_duration(self.config.remind_every)
        candidates = [request.asked_at + remind_after + every * request.reminders_sent]
        if request.escalate_at is not None and request.escalated_at is None:
            candidates.append(request.escalate_at)
        return min(candidates)

    # -- sending -------------------------------------------------------------------------

    def deliver(self) -> int:
        """Send every due ask, reminder and escalation once; return how many went out."""
        now = self.clock.now()
        with self.db.session() as s:
            due = signoffs.due_request_ids(s, now)
        sent = 0
        for request_id in due:
            send = self._claim(request_id, now)
            if send is None:
                continue
            try:
                refs = self._send(send)
            except Exception as exc:
                log.warning("sign-off %s for request %s failed: %s", send.kind, request_id, exc)
                self._unclaim(send, now)
                continue
            if refs:
                with self.db.session() as s:
                    request = signoffs.request_by_id(s, request_id)
                    if request is not None:
                        request.messages = [*request.messages, *refs]
                        signoffs.save(s, request)
            sent += 1
        return sent

    def _claim(self, request_id: int, now: datetime) -> _Send | None:
        with self.db.session() as s:
            request = signoffs.claim_request(s, request_id, skip_locked=self.db.is_postgres)
            if request is None or request.closed_at is not None or request.next_at is None:
                return None
            if request.next_at > now:
                return None  # another replica sent it just now
            row = rollouts.by_id(s, request.rollout_id)
            if row is None:
                return None
            moved = (
                row.step_index != request.step_index or row.step_started_at != request.entered_at
            )
            if row.state == RolloutState.PAUSED.value and not moved:
                request.next_at = None  # held: asked again when it resumes (see `sync`)
                signoffs.save(s, request)
                return None
            if moved or row.state != RolloutState.RUNNING.value:
                # The step moved on (or the rollout finished) since: nothing to ask any more.
                request.closed_at, request.next_at = now, None
                signoffs.save(s, request)
                return None
            if request.asked_at is None:
                kind = AskStage.ASK
                request.asked_at = now
                if self.config.escalate_after:
                    request.escalate_at = now + parse_duration(self.config.escalate_after)
            elif (
                request.escalate_at is not None
                and request.escalated_at is None
                and request.escalate_at <= now
            ):
                kind = AskStage.ESCALATION
                request.escalated_at = now
            else:
                kind = AskStage.REMINDER
                # After downtime, one reminder catches up; the next is counted from now on.
                every = parse_duration(self.config.remind_every)
                first = request.asked_at + parse_duration(self.config.remind_after)
                while first + every * request.reminders_sent <= now:
                    request.reminders_sent += 1
            request.next_at = self._next_due(request, now)
            signoffs.save(s, request)
            send = self._compose(s, request, row, kind, now)
            if send is not None:
                audit.record(
                    s,
                    actor=SCHEDULER,
                    at=now,
                    action=_audit_action(kind),
                    subject_type="rollout",
                    subject_id=row.flag_key,
                    after={"gate": request.gate_id, "role": request.role_id, "to": send.users},
                )
            return send

    def _unclaim(self, send: _Send, now: datetime) -> None:
        """Sending failed: put the request back so the next tick tries again."""
        with self.db.session() as s:
            request = signoffs.request_by_id(s, send.request_id, for_update=True)
            if request is None:
                return
            if send.kind is AskStage.ASK:
                request.asked_at, request.escalate_at = None, None
            elif send.kind is AskStage.ESCALATION:
                request.escalated_at = None
            request.next_at = now + RETRY_AFTER_FAILURE
            signoffs.save(s, request)

    def _compose(
        self,
        s: Session,
        request: SignoffRequestRow,
        row: RolloutRow,
        kind: AskStage,
        now: datetime,
    ) -> _Send | None:
        assert row.id is not None
        current = self.chain.current(s, row)
        if current is None:
            return None
        plan, gate, chain = current
        directory = self.context.directory
        role = directory.role(request.role_id)
        role_name = role.name if role else request.role_id
        groups = self.context.permissions.group_members()
        members: list[str] = []
        if role is not None:
            members = list(role.members)
            if role.usergroup:
                members += [m for m in groups.get(role.usergroup, []) if m not in members]
        planned = plan.step(row.step_index)
        required = self.chain.required_checklists(plan, gate)
        all_states = self.context.checklists.states(s, row, plan)
        required_ids = {c.id for c in required}
        states = [st for st in all_states if st.checklist.id in required_ids]
        waited = now - (request.asked_at or now)
        ask = Ask(
            stage=kind,
            flag_key=row.flag_key,
            plan_title=plan.title,
            phase_name=planned.phase.name,
            step_name=planned.step.name,
            percentage=row.percentage,
            gate_title=gate.title,
            role_name=role_name,
            requester=row.started_by,
            chain=chain_state(chain, directory),
            checklists=open_checklists(required, states, directory),
            button=SignButton(
                row.id, row.step_index, visit_ms(row.step_started_at), request.role_id
            ),
            reminders_sent=request.reminders_sent if kind is AskStage.REMINDER else 0,
            waited=waited if kind is not AskStage.ASK else timedelta(0),
            metrics=metric_readings(all_states),
        )
        # Not the requester, nor (one person, one role) someone who signed another role.
        signed = {sig.user for sig in chain.signatures.values()}
        skip = {row.started_by} | (set() if self.config.allow_multiple_roles else signed)
        users = [m for m in members if m not in skip]
        channel_text = None
        if kind is AskStage.ESCALATION:
            backups = list(role.backups) if role else []
            if self.config.escalate_to == "backups" and backups:
                users = [b for b in backups if b != row.started_by]
            else:
                users = []
                channel_text = SignoffEscalated(
                    gate.title,
                    row.flag_key,
                    role_name,
                    RoleHolders.of(role) if role else None,
                    waited,
                )
        return _Send(request.id or 0, kind, users, ask, channel_text, row.id)

    def _send(self, send: _Send) -> list[MessageRef]:
        """Send to everyone; raise only when nobody could be reached (then it is retried),
        so one unreachable member neither blocks the others nor gets them a duplicate."""
        notifier = self.context.notifier
        refs: list[MessageRef] = []
        failures: list[Exception] = []
        for user in send.users:
            try:
                ref = notifier.ask(user, send.ask)
            except Exception as exc:
                log.warning("could not send a sign-off %s to %s: %s", send.kind, user, exc)
                failures.append(exc)
                continue
            if ref:
                refs.append(ref)
        if send.channel_text:
            # Through the rollout's thread and its ordered outbox: behind what waits there,
            # retried (by one replica) until Slack takes it, never out of order.
            self.context.rollouts.post(send.rollout_id, send.channel_text)
        elif failures and len(failures) == len(send.users):
            raise failures[0]
        return refs


def _audit_action(kind: AskStage) -> str:
    return "signoff.asked" if kind is AskStage.ASK else f"signoff.{kind.value}_sent"


def _closed_reason(state: str) -> NoLongerNeeded:
    if state == RolloutState.ROLLED_BACK.value:
        return NoLongerNeeded.ROLLED_BACK
    if state == RolloutState.COMPLETED.value:
        return NoLongerNeeded.COMPLETED
    return NoLongerNeeded.MOVED
