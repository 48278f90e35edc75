"""hitl_langgraph: work in progress."""
