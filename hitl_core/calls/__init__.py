"""The lifecycle of a gated call, once, for every adapter.

    proposed ──► pending ──► decided ──► started ──► executed
       │   (gated)       (a person)   (claimed)  └─► outcome unknown ──► a person decides
       └──────────── not gated ──────────┘          (retry / mark done / abandon)
    any reviewed call that is not what was reviewed ──► refused (nothing runs)

An adapter opens a `RunPass` (the run's lease, its snapshot, its saves and failure), asks
the pass's `CallLedger` for each call's next `Step`, and hands `Run` steps back to the
ledger to claim and run. See docs/architecture.md for who owns each transition.
"""

from hitl_core.calls.context import current_call as current_call
from hitl_core.calls.ledger import RECOVERY_ALLOWED as RECOVERY_ALLOWED
from hitl_core.calls.ledger import CallLedger as CallLedger
from hitl_core.calls.model import Answer as Answer
from hitl_core.calls.model import CallInfo as CallInfo
from hitl_core.calls.model import Executed as Executed
from hitl_core.calls.model import GatedCall as GatedCall
from hitl_core.calls.model import Ran as Ran
from hitl_core.calls.model import Run as Run
from hitl_core.calls.model import Step as Step
from hitl_core.calls.model import Wait as Wait
from hitl_core.calls.passes import DEFAULT_LEASE as DEFAULT_LEASE
from hitl_core.calls.passes import TRANSIENT as TRANSIENT
from hitl_core.calls.passes import AsyncRunPass as AsyncRunPass
from hitl_core.calls.passes import RunPass as RunPass
from hitl_core.calls.passes import holder_id as holder_id

__all__ = [
    "DEFAULT_LEASE",
    "RECOVERY_ALLOWED",
    "TRANSIENT",
    "Answer",
    "AsyncRunPass",
    "CallInfo",
    "CallLedger",
    "Executed",
    "GatedCall",
    "Ran",
    "Run",
    "RunPass",
    "Step",
    "Wait",
    "current_call",
    "holder_id",
]
