"""`EventFeed`: a service polls for its events and acknowledges them (RFC 8936).

A poll first records the service's acknowledgements (`ack`) and error reports (`setErrs`),
then returns its events not yet taken, oldest first. Returned events stay pending until
acknowledged, so a poll answer lost on the way is answered again by the next poll; a receiver
dedupes on `jti`. A service only ever sees, acknowledges or reports its own events: `jti`s of
other services, unknown ones and ones taken already are ignored without saying which. A SET
the sweeper stored as claims is signed when first returned, and kept signed
(`outbox.sign_pending`).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping

from vault.events.model import PollResult, error_code
from vault.events.outbox import SetSigner, sign_pending
from vault.events.repository import SqlOutboxRepository
from vault.ports import Clock
from vault.storage.unit_of_work import UnitOfWorkFactory


class EventFeed:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        max_events: int = 100,
        signer: SetSigner | None = None,
    ) -> None:
        self._uow = uow
        self._signer = signer
        self._clock = clock
        self.max_events = max_events

    def poll(
        self,
        service_id: uuid.UUID,
        *,
        ack: Collection[str] = (),
        errors: Mapping[str, str] | None = None,
        max_events: int | None = None,
    ) -> PollResult:
        """Take `ack`ed and error-reported (`errors`: jti -> err code) events, then return up
        to `max_events` (capped at the feed's maximum; 0: none) of the rest."""
        limit = self.max_events if max_events is None else min(max_events, self.max_events)
        now = self._clock.now()
        with self._uow() as uow:
            repo = SqlOutboxRepository(uow.session)
            repo.take(service_id, set(ack), now, via="poll", outcome="acknowledged")
            by_code: dict[str, set[str]] = {}
            for jti, err in (errors or {}).items():
                by_code.setdefault(error_code(err), set()).add(jti)
            for code, jtis in by_code.items():
                repo.take(
                    service_id, jtis, now, via="poll", outcome="refused", error=f"refused: {code}"
                )
            rows = repo.undelivered(service_id, limit + 1)
            signed = {row.jti: sign_pending(self._signer, row) for row in rows[:limit]}
            uow.commit()
        return PollResult(
            # undelivered() holds SETs only; the check keeps a ping out should that change, and
            # a SET that could not be signed now waits for the next poll.
            sets={jti: jwt for jti, jwt in signed.items() if jwt is not None},
            more_available=len(rows) > limit,
        )
