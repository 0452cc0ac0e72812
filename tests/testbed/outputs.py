"""Read a ``$GITHUB_OUTPUT`` file back the way the runner does (the e2e and act checks, and the
round-trip tests of ``gha.format_output``)."""

from __future__ import annotations


def parse_output_file(text: str) -> dict[str, str]:
    """``name -> value`` of every record; an unclosed heredoc is a ValueError."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body: list[str] = []
            while index < len(lines) and lines[index] != delimiter:
                body.append(lines[index])
                index += 1
            if index >= len(lines):
                raise ValueError(f"output {name!r}: delimiter {delimiter!r} never closes")
            index += 1
            values[name] = "\n".join(body)
        else:
            name, _, value = line.partition("=")
            values[name] = value
    return values
