"""The adjusters' side: who they are, and how a decision gets recorded.

`hitl_core` records any decision it is handed; who may give it is the review surface's
job. This is that surface in miniature: check the policy's roles, then decide.
"""

from __future__ import annotations

from hitl_core import ApprovalRequest, ApprovalStore, Approve, Policy, Reject
from hitl_core.access import Reviewer, check_decider

__all__ = ["ADJUSTER", "SENIOR_ADJUSTER", "review"]

ADJUSTER = Reviewer(id="ana", roles=("adjuster",))
SENIOR_ADJUSTER = Reviewer(id="sam", roles=("senior_adjuster",))


def review(
    store: ApprovalStore,
    policy: Policy,
    reviewer: Reviewer,
    request_id: str,
    *,
    approve: bool,
    feedback: str | None = None,
) -> ApprovalRequest:
    """Record `reviewer`'s approval or rejection, if the policy lets them decide this tool.

    `reviewer` must already be authenticated (a login, a token): its id is what the
    audit trail will show.

    Raises:
        NotAuthorized: the tool's rule names roles `reviewer` does not hold.
        AlreadyDecided, RequestExpired: too late; in every case nothing is written.
    """
    request = store.get(request_id)
    check_decider(request, reviewer, "approve" if approve else "reject", policy=policy)
    at = store.clock.now()  # the store's time, so a simulated day reads right in the audit
    decision = (
        Approve(by=reviewer.id, feedback=feedback, at=at)
        if approve
        else Reject(by=reviewer.id, feedback=feedback, at=at)
    )
    return store.decide(request_id, decision, roles=reviewer.roles)
