from __future__ import annotations

import sys

from dify_action.cli import main

sys.exit(main())
