"""Our plain loop, held to the standard suite."""

from __future__ import annotations

from hitl_conformance import AdapterConformanceTests


class TestLoopConformance(AdapterConformanceTests):
    factory = "hitl_loop"
