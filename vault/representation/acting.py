"""Acting for someone: one request done by a representative in the principal's vault.

`ActingFor` is what a service method is handed when a request came with `Regie-Act-For`
(api/deps.py resolves it). It carries no permission of its own: every use asks the mandate
check (`RepresentationService.authorise` / `scope`, i.e. `policy.may_act`) again, on
current state, in the caller's transaction, for the category and action at hand. Without
an `ActingFor` a method serves the signed-in resident's own vault, as before.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from vault.errors import AccessDenied
from vault.representation.policy import MayAct
from vault.storage.unit_of_work import SqlUnitOfWork

ActorKind = Literal["resident", "representative"]


class MandateGuard(Protocol):
    """The mandate check, as the representation service offers it."""

    def authorise(
        self,
        uow: SqlUnitOfWork,
        representative_id: uuid.UUID,
        mandate_id: uuid.UUID,
        *,
        category: str,
        action: str,
    ) -> MayAct: ...

    def scope(
        self,
        uow: SqlUnitOfWork,
        representative_id: uuid.UUID,
        mandate_id: uuid.UUID,
        *,
        action: str,
    ) -> frozenset[str]: ...

    def refused(
        self,
        uow: SqlUnitOfWork,
        acting: ActingFor,
        refusal: AccessDenied,
        *,
        category: str | None,
        action: str | None,
    ) -> None:
        """Log the refusal in the principal's log and commit; or raise `RateLimited` when
        this representative's refusals there are over their limit."""
        ...


@dataclass(frozen=True, slots=True)
class ActingFor:
    representative_id: uuid.UUID  # the signed-in resident
    principal_id: uuid.UUID  # whose vault, whose log
    mandate_id: uuid.UUID
    kind: str  # mandate | parent
    guard: MandateGuard

    def same_vault(self, resident_id: uuid.UUID) -> None:
        """A service method handed this context serves the principal's vault, no other."""
        if resident_id != self.principal_id:
            raise AccessDenied("this mandate is not for this vault", reason="no-mandate")

    def check(self, uow: SqlUnitOfWork, *, category: str, action: str) -> None:
        """AccessDenied (with the mandate's reason) unless the mandate covers this now.

        A refusal is logged in the principal's log and committed with the caller's unit of
        work before it is raised (invariant I2: a refused attempt is in the log too), so
        call this before the step changes anything. Beyond the representative's limit of
        refusals in this log it is `RateLimited` instead, and not logged
        (vault/representation/throttle.py)."""
        try:
            allowed = self.guard.authorise(
                uow, self.representative_id, self.mandate_id, category=category, action=action
            )
        except AccessDenied as e:
            self.guard.refused(uow, self, e, category=category, action=action)
            raise
        if allowed.principal_id != self.principal_id:  # never another vault than resolved
            raise AccessDenied("this mandate is not for this vault", reason="no-mandate")

    def covers(self, uow: SqlUnitOfWork, *, category: str, action: str) -> bool:
        """Whether the mandate covers this now, asked without logging: not an attempt, but
        what the answer to a covered step may show (a write's answer shows the record only
        to a mandate that may also read it)."""
        try:
            allowed = self.guard.authorise(
                uow, self.representative_id, self.mandate_id, category=category, action=action
            )
        except AccessDenied:
            return False
        return allowed.principal_id == self.principal_id

    def check_all(self, uow: SqlUnitOfWork, categories: Iterable[str], *, action: str) -> None:
        for category in sorted(set(categories)):
            self.check(uow, category=category, action=action)

    def categories(self, uow: SqlUnitOfWork, *, action: str) -> frozenset[str]:
        """The categories the mandate covers for `action` now; AccessDenied if none (logged
        and committed first, like `check`)."""
        try:
            return self.guard.scope(uow, self.representative_id, self.mandate_id, action=action)
        except AccessDenied as e:
            self.guard.refused(uow, self, e, category=None, action=action)
            raise

    @property
    def granted_by(self) -> str:
        """The basis of a consent given under this mandate (grants' `granted_by`)."""
        return "parent" if self.kind == "parent" else "legal-representative"


def actor(resident_id: uuid.UUID, acting: ActingFor | None) -> tuple[ActorKind, str]:
    """Who did it, as an access event names them: the resident by id, or the representative
    by the mandate (never by their own id or name: the leaf holds no personal data, and the
    principal's log shows the name from the mandate, sealed under the principal's key)."""
    if acting is None:
        return "resident", str(resident_id)
    return "representative", str(acting.mandate_id)


def category_of(datatype: str) -> str:
    return datatype.split(".", 1)[0]
