from __future__ import annotations

import sys

from dify_action.front.cli import main

sys.exit(main())
