"""The container action's entry point (the image runs this file): see ``dify_action.front.action``."""

import sys

from dify_action.front.action import main

sys.exit(main())
