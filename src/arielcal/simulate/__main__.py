"""``python -m arielcal.simulate``."""

from .cli import main

raise SystemExit(main())
