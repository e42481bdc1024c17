"""``python -m dopasoft`` runs the command line."""

from dopasoft.cli import main

raise SystemExit(main())
