"""Front ends: the container action (``action``), the CLI (``cli`` + ``commands/``), the Actions
protocol (``gha``) and what they share (``common``, ``settings``). Nothing below imports this package."""
