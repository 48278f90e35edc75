"""hitl_conformance: the suite every hitl-kit adapter runs, ours and third parties'.

    from hitl_conformance import AdapterConformanceTests

    class TestMyAdapter(AdapterConformanceTests):
        factory = "my_adapter.conformance:driver"

See docs/conformance.md for writing a driver.
"""

from hitl_conformance.capabilities import MAY as MAY
from hitl_conformance.capabilities import MUST as MUST
from hitl_conformance.capabilities import Capability as Capability
from hitl_conformance.driver import AdapterDriver as AdapterDriver
from hitl_conformance.driver import DriverConfig as DriverConfig
from hitl_conformance.driver import RunOutcome as RunOutcome
from hitl_conformance.harness import Harness as Harness
from hitl_conformance.journal import Journal as Journal
from hitl_conformance.scenario import STANDARD_POLICY as STANDARD_POLICY
from hitl_conformance.scenario import Scenario as Scenario
from hitl_conformance.scenario import ScriptedCall as ScriptedCall
from hitl_conformance.suite.base import AdapterConformanceTests as AdapterConformanceTests
from hitl_conformance.tools import recording_tools as recording_tools

__all__ = [
    "MAY",
    "MUST",
    "STANDARD_POLICY",
    "AdapterConformanceTests",
    "AdapterDriver",
    "Capability",
    "DriverConfig",
    "Harness",
    "Journal",
    "RunOutcome",
    "Scenario",
    "ScriptedCall",
    "recording_tools",
]
