"""A streaming banking chat API where big transfers wait for the customer's yes.

Run ``make example-banking-chat`` (``python -m examples.banking_chat``) to play a session
offline, or add ``--serve`` to try it with curl.

The pattern: save the state instead of executing. ``POST /chat`` streams the agent's
progress over SSE. A balance check or a transfer of up to 100 finishes in that stream.
A bigger transfer ends it with an ``approval_required`` event; the run is already in the
approval store, and the connection closes. ``POST /decisions/{request_id}`` records
the answer, resumes the run from the store and streams the result. No run is held in
memory between the two requests, so the second may reach any instance.

- `app.py`: the API (copy this one), its SSE events and their payloads.
- `agent.py`: the tools, the threshold policy, the model (scripted offline).
- `bank.py`: balances and transfers in SQLite; `client.py`: reading SSE from Python.

Built on the plain loop (`hitl_loop`): its `stream`/`stream_resume` yield each model turn
and tool result as it happens, with no framework between the events and the wire. Each
chat message is its own run; earlier messages of a session are not shown to the model.
"""
