"""hitl_conformance: the suite every hitl-kit adapter runs, ours and third parties'.

    from hitl_conformance import AdapterConformanceTests

    class TestMyAdapter(AdapterConformanceTests):
        factory = "my_adapter.conformance:driver"

See docs/conformance.md for writing a driver. A store's suite is separate:
`hitl_conformance.stores.StoreConformanceTests` checks an `ApprovalStore`.
"""

import pytest

# Full assertion diffs for adapter authors: rewrite the suite's asserts when pytest runs.
pytest.register_assert_rewrite("hitl_conformance.suite", "hitl_conformance.harness")

from hitl_conformance.capabilities import MAY as MAY  # noqa: E402
from hitl_conformance.capabilities import MUST as MUST  # noqa: E402
from hitl_conformance.capabilities import Capability as Capability  # noqa: E402
from hitl_conformance.driver import AdapterDriver as AdapterDriver  # noqa: E402
from hitl_conformance.driver import DriverConfig as DriverConfig  # noqa: E402
from hitl_conformance.driver import RunOutcome as RunOutcome  # noqa: E402
from hitl_conformance.harness import Harness as Harness  # noqa: E402
from hitl_conformance.journal import Journal as Journal  # noqa: E402
from hitl_conformance.scenario import STANDARD_POLICY as STANDARD_POLICY  # noqa: E402
from hitl_conformance.scenario import ModelUnavailable as ModelUnavailable  # noqa: E402
from hitl_conformance.scenario import Scenario as Scenario  # noqa: E402
from hitl_conformance.scenario import ScriptedCall as ScriptedCall  # noqa: E402
from hitl_conformance.scenario import playable as playable  # noqa: E402
from hitl_conformance.suite.base import AdapterConformanceTests as AdapterConformanceTests  # noqa: E402
from hitl_conformance.tools import AUTHOR_GATED as AUTHOR_GATED  # noqa: E402
from hitl_conformance.tools import recording_tools as recording_tools  # noqa: E402

__all__ = [
    "AUTHOR_GATED",
    "MAY",
    "MUST",
    "STANDARD_POLICY",
    "AdapterConformanceTests",
    "AdapterDriver",
    "Capability",
    "DriverConfig",
    "Harness",
    "Journal",
    "ModelUnavailable",
    "RunOutcome",
    "Scenario",
    "ScriptedCall",
    "playable",
    "recording_tools",
]
