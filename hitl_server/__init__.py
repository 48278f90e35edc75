"""hitl-kit's review surfaces over HTTP: the API, the event stream, the inbox and webhooks.

Importing this package imports no web framework; `hitl_server.app` does.
"""
