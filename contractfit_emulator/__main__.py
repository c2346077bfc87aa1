"""`python -m contractfit_emulator`: same as the `contractfit-emulator` script."""

from .cli import main

raise SystemExit(main())
