"""`OutboxDelivery`: push due events to services (RFC 8935), with retries and backoff.

One round (`run_once`):
1. claim: in a short transaction, lock a batch of due events (skipping those another pusher
   holds, on PostgreSQL), lease each (`next_attempt_at = now + lease`), count the attempt,
   sign the SETs the sweeper stored as claims (`outbox.sign_pending`: kept signed on the row),
   commit. No lock or transaction is held while the HTTP request runs;
2. push each through the `SetPoster` (api/events/push.py does HTTP; tests pass fakes);
3. record each outcome in its own short transaction, right after its push: taken
   (acknowledged or refused: final), or retry after the backoff, or give up (still pollable).

A CIBA ping (kind ``ping``, vault/events/ping.py) goes the same way with the same policy,
through the `PingPoster` to the service's client notification endpoint: its sealed secret is
opened at the claim (into memory only) and blanked on the row once the ping is finished. A ping
whose secret does not open is given up at once (nothing could ever deliver it).

Delivery is at least once. A pusher that dies mid-push leaves the event leased; after the
lease another pusher sends it again, so a receiver may see a `jti` twice and must dedupe on it
(docs/events.md). An event taken meanwhile by a poll is not pushed again.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from keys.errors import DecryptionError
from vault.events import ping
from vault.events.model import (
    Acknowledged,
    DeliveryReport,
    PendingPush,
    PushOutcome,
    PushPolicy,
    Refused,
    Retry,
)
from vault.events.outbox import SetSigner, sign_pending
from vault.events.repository import SqlOutboxRepository
from vault.ports import Clock
from vault.storage.unit_of_work import UnitOfWorkFactory


class SetPoster(Protocol):
    def post(self, endpoint: str, set_jwt: str) -> PushOutcome:
        """Push one SET to `endpoint`; never raises for anything the receiver does."""
        ...


class PingPoster(Protocol):
    def ping(self, endpoint: str, token: str, auth_req_id: str) -> PushOutcome:
        """POST one CIBA ping to `endpoint` with `token` as Bearer; never raises for anything
        the receiver does."""
        ...


class OutboxDelivery:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        poster: SetPoster,
        clock: Clock,
        policy: PushPolicy | None = None,
        pinger: PingPoster | None = None,
        sealer: ping.Sealer | None = None,
        signer: SetSigner | None = None,
    ) -> None:
        """`signer` signs the SETs stored as claims (the sweeper's); without one they are
        retried until a pusher with a signer (or a poll) takes them."""
        self._uow = uow
        self._signer = signer
        self._poster = poster
        self._pinger = pinger
        self._sealer = sealer
        self._clock = clock
        self.policy = policy or PushPolicy()

    def run_once(self) -> DeliveryReport:
        """Claim one batch of due events and push each; what happened."""
        claimed = self._claim()
        counts = {"acknowledged": 0, "refused": 0, "retrying": 0, "gave_up": 0}
        for pending in claimed:
            try:
                outcome = self._push(pending)
            except Exception as e:  # noqa: BLE001 - a broken poster must not stop the round
                outcome = Retry(f"push failed ({type(e).__name__})")
            counts[self._record(pending, outcome)] += 1
        return DeliveryReport(claimed=len(claimed), **counts)

    def drain(self, *, max_rounds: int = 1000) -> DeliveryReport:
        """Rounds until nothing more is due now (what `regie events deliver --once` does)."""
        total = DeliveryReport()
        for _ in range(max_rounds):
            report = self.run_once()
            total = DeliveryReport(
                claimed=total.claimed + report.claimed,
                acknowledged=total.acknowledged + report.acknowledged,
                refused=total.refused + report.refused,
                retrying=total.retrying + report.retrying,
                gave_up=total.gave_up + report.gave_up,
            )
            if report.claimed < self.policy.batch:
                break
        return total

    def _push(self, pending: PendingPush) -> PushOutcome:
        if pending.ping is not None:
            if self._pinger is None:
                return Retry("this pusher cannot ping")
            return self._pinger.ping(pending.endpoint, pending.ping.token, pending.ping.auth_req_id)
        if pending.set_jwt is None:
            return Retry("no SET to push")
        return self._poster.post(pending.endpoint, pending.set_jwt)

    def _claim(self) -> list[PendingPush]:
        now = self._clock.now()
        with self._uow() as uow:
            repo = SqlOutboxRepository(uow.session)
            claimed = []
            for row, endpoint in repo.due(now, self.policy.batch):
                secret: ping.PingSecret | None = None
                if row.kind == "ping":
                    secret = self._open(row.ping_ct, row.event_id)
                    if secret is None:
                        row.ping_ct = None
                        row.next_attempt_at = None
                        row.last_error = "gave up: the sealed ping does not open"
                        continue
                row.attempts += 1
                row.next_attempt_at = now + self.policy.lease
                claimed.append(
                    PendingPush(
                        event_id=row.event_id,
                        jti=row.jti,
                        set_jwt=sign_pending(self._signer, row),
                        endpoint=endpoint,
                        attempt=row.attempts,
                        created_at=row.created_at,
                        ping=secret,
                    )
                )
            uow.commit()
            return claimed

    def _open(self, sealed: bytes | None, event_id: uuid.UUID) -> ping.PingSecret | None:
        if sealed is None or self._sealer is None:
            return None
        try:
            return ping.open_secret(self._sealer, sealed, "event_outbox", event_id)
        except (DecryptionError, ValueError, KeyError):
            return None

    def _record(self, pending: PendingPush, outcome: PushOutcome) -> str:
        now = self._clock.now()
        with self._uow() as uow:
            row = SqlOutboxRepository(uow.session).get(pending.event_id, for_update=True)
            if row is None or row.delivered_at is not None:
                return "acknowledged"  # taken meanwhile (by a poll): nothing left to do
            if isinstance(outcome, Acknowledged | Refused):
                row.delivered_at = now
                row.delivered_via = "push"
                row.next_attempt_at = None
                if isinstance(outcome, Refused):
                    row.outcome = "refused"
                    row.last_error = f"refused: {outcome.err}"[:200]
                    kind = "refused"
                else:
                    row.outcome = "acknowledged"
                    kind = "acknowledged"
            else:
                following = now + self.policy.delay(pending.attempt)
                if following > pending.created_at + self.policy.give_up_after:
                    row.next_attempt_at = None
                    row.last_error = (
                        f"gave up after {pending.attempt} attempts; last: {outcome.reason}"[:200]
                    )
                    kind = "gave_up"
                else:
                    row.next_attempt_at = following
                    row.last_error = outcome.reason[:200]
                    kind = "retrying"
            if row.next_attempt_at is None:
                row.ping_ct = None  # finished: the bearer token and auth_req_id are gone
            uow.commit()
            return kind
