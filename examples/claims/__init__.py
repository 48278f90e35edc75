"""Insurance claims: small, clean claims pay at once; large or risky ones wait for a person.

Run ``make example-claims`` (``python -m examples.claims``) for four scenarios, offline
in a few seconds: a small claim paid automatically; a large claim an adjuster approves;
a risky claim nobody answers, which expires after 24 hours and escalates to a senior
adjuster; and a process killed while it waits, whose claim a new process finishes with
exactly one payout.

- `policy.toml`: a human when ``amount > 5000`` or the intake risk score
  (``ctx("risk_score")``) is 0.7 or more; 24h to answer; on expiry the payment is
  rejected with "escalated to a senior adjuster", and the agent raises `escalate_claim`,
  which only the ``senior_adjuster`` role may decide.
- `agent.py`: the claim, the tools, the model and `submit` (start, or pick up after a crash).
- `review.py`: the adjusters, and the role check before a decision is recorded.
- `scenarios.py`: the four scenarios; `claim_process.py`: the process the crash kills.

Why the plain loop (`hitl_loop`) rather than LangGraph: settling a claim is one short
tool-calling job, not a graph, and the loop keeps its whole state as one snapshot in the
approval store itself. A crashed process, a worker and a resume therefore need nothing
but the one SQLite file: no checkpointer to keep in step with the store.
"""
