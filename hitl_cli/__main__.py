"""``python -m hitl_cli`` runs the ``hitl`` command."""

from hitl_cli.app import main

main()
