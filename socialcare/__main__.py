"""``python -m socialcare`` runs the CLI."""

from .cli import main

main()
