"""``python -m postventa`` runs the command-line interface."""

from postventa.cli import main

main()
