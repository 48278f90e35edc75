"""One payments agent, three frameworks, one policy file: ``python -m examples.payments``.

- `examples.payments.common`: the policy, the ``send_payment`` tool and its ledger, the
  prompt (framework-free: what carries over when an agent changes framework).
- `examples.payments.agent_langgraph`: ``create_agent`` + `HumanApprovalMiddleware`.
- `examples.payments.agent_openai_agents`: an SDK ``Agent`` run by `ApprovalRunner`.
- `examples.payments.agent_loop`: `hitl_loop.ToolLoop`, no framework.
"""
