"""The ``hitl`` command line: demo, schema export, and (later) review and workers."""
