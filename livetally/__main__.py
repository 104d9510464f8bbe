"""``python -m livetally`` runs the CLI."""

from livetally.cli import main

raise SystemExit(main())
