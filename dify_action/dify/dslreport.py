"""The result of checking the app DSL files: one value for the CLI, the step summary and the PR body."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dify_action.dify.dsl import AppCheck, Finding, check_file
from dify_action.errors import GateFailed
from dify_action.markdown import escape

_ICON = {"completed": "✅", "completed-with-warnings": "⚠️", "pending": "⛔", "failed": "⛔"}


@dataclass(frozen=True)
class AppsReport:
    """Every DSL file checked against ``current`` (the image's CURRENT_APP_DSL_VERSION)."""

    current: str
    checks: tuple[AppCheck, ...]
    image: str | None = None

    @property
    def blocks(self) -> bool:
        return any(c.blocks for c in self.checks)

    def findings(self, severity: str) -> tuple[Finding, ...]:
        return tuple(f for c in self.checks for f in c.findings if f.severity == severity)

    def markdown(self) -> str:
        """A table of the apps, then every error and warning with file:line; values escaped."""
        where = f" of {escape(self.image)}" if self.image else ""
        lines = [f"### Dify app DSL (current DSL version {escape(self.current)}{where})", "",
                 "| File | App | Mode | DSL | Verdict | Plugins |", "| --- | --- | --- | --- | --- | --- |"]
        for check in self.checks:
            verdict = check.verdict if not (check.blocks and check.verdict not in ("pending", "failed")) \
                else check.verdict + ", errors"
            lines.append(f"| {escape(check.file)} | {escape(check.name or '-')} | {escape(check.mode or '-')} | "
                         f"{escape(check.version or '-')} | {_ICON.get(check.verdict, '')} {escape(verdict)} | "
                         f"{escape(', '.join(check.plugins) or '-')} |")
        for severity in ("error", "warning"):
            found = self.findings(severity)
            if found:
                lines += ["", f"**{severity}s**:"]
                lines += [f"- {escape(f'{f.file}:{f.line}' if f.line else f.file)}: {escape(f.text)}" for f in found]
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, object]:
        return {"current": self.current, "image": self.image, "blocks": self.blocks,
                "apps": [c.as_dict() for c in self.checks]}


def check_apps(files: Sequence[Path], current: str, root: Path, *, image: str | None = None) -> AppsReport:
    """Check ``files`` (found by dsl.expand) against the DSL version ``current``; names relative to root."""
    checks = []
    for path in files:
        try:
            display = path.relative_to(root).as_posix()
        except ValueError:
            display = str(path)
        checks.append(check_file(path, current, display))
    return AppsReport(current, tuple(checks), image)


def gate(report: AppsReport) -> None:
    """GateFailed when an app would not import (pending, failed) or breaks a rule; the message lists
    every error, and file/line point at the first (an annotation in Actions)."""
    errors = report.findings("error")
    blocked = [c for c in report.checks if c.blocks]
    if not blocked:
        return
    first = errors[0] if errors else None
    names = ", ".join(f"{c.file} ({c.verdict})" for c in blocked)
    raise GateFailed(f"app DSL check failed for {names}:\n" + "\n".join(
        f"  {f.file}:{f.line or '-'}: {f.text}" for f in errors),
        hint=f"re-export the apps from a Dify whose DSL version is {report.current}, or fix the files",
        file=first.file if first else None, line=first.line if first else None)
