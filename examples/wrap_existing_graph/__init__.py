"""Gating an existing LangGraph graph, unedited: ``python -m examples.wrap_existing_graph``.

- `examples.wrap_existing_graph.graph`: the team's graph, untouched (no hitl-kit import).
- `examples.wrap_existing_graph.gate`: the policy, the codec and the runner around it.
- `examples.wrap_existing_graph.database`: the SQLite database the example purges.
"""
