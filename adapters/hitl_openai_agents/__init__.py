"""hitl_openai_agents: work in progress."""
