"""How a verification reads: plain lines for the CLI, Markdown for the step summary. Values from
the live systems are data: escaped for Markdown (markdown.escape) and for terminals (text.display)."""

from __future__ import annotations

from dify_action.markdown import code, escape
from dify_action.text import display
from dify_action.verify.model import State, VerifyResult, short_digest, short_revision

_ICONS = {State.OK: "ok", State.PENDING: "pending", State.DEGRADED: "DEGRADED", State.MISMATCH: "MISMATCH",
          State.FAILED: "FAILED"}


def headline(result: VerifyResult) -> str:
    verdict = result.verdict
    where = f"{result.environment} at {short_revision(result.expected.revision)}"
    if verdict.verified:
        return f"verified: {where}"
    return f"{'timed out' if verdict.status == 'timeout' else 'FAILED'}: {where}: {verdict.cause}"


def text_lines(result: VerifyResult) -> list[str]:
    lines = [display(headline(result))]
    lines += [f"  {i.ref.name}:{i.ref.tag} @ {short_digest(i.digest)}" + (f" Dify {i.dify_version}" if i.dify_version
                                                                         else "") for i in result.expected.images]
    lines += [display(f"  {_ICONS[o.state]:8} {o.describe()}") for o in result.verdict.observations]
    if result.merge_to_healthy is not None:
        lines.append(f"  merge to healthy: {result.merge_to_healthy:.1f}s")
    lines += [f"  recorded: {r.rpartition('@')[0]} @ {short_digest(r.rpartition('@')[2])}" for r in result.recorded]
    if result.rollback:
        where = result.rollback.get("pr_url") or result.rollback.get("branch")
        lines.append(display(f"  rollback: {result.rollback.get('operation')} {where}"))
    if result.rollback_refused:
        lines.append(display(f"  {result.rollback_refused}"))
    return lines


def markdown(result: VerifyResult) -> str:
    verdict = result.verdict
    title = {"verified": "verified", "failed": "failed", "timeout": "timed out"}[verdict.status]
    out = [f"## dify-action verify: {escape(result.environment)} {title}", ""]
    out.append(f"Revision {code(result.expected.revision[:12])} (asked: {code(result.commit[:12])}); sources: "
               f"{', '.join(result.sources)}; {verdict.rounds} reading(s) in {verdict.decided_at:.1f}s.")
    if result.merge_to_healthy is not None:
        out.append(f"Merge to healthy: **{result.merge_to_healthy:.1f}s**.")
    if not verdict.verified:
        out += ["", f"**Cause:** {escape(verdict.cause, 2000)}"]
    out += ["", "| image | tag | digest | Dify |", "| --- | --- | --- | --- |"]
    out += [f"| {escape(i.ref.name)} | {escape(i.ref.tag)} | {code(short_digest(i.digest))} | "
            f"{escape(i.dify_version or '-')} |" for i in result.expected.images]
    out += ["", "| source | subject | state | detail |", "| --- | --- | --- | --- |"]
    out += [f"| {o.source} | {escape(o.subject, 120)} | {o.state.value} | {escape(o.detail, 400)} |"
            for o in verdict.observations]
    for note in result.notes:
        out += ["", f"Note: {escape(note, 500)}"]
    if result.rollback:
        out += ["", f"Rollback: {escape(result.rollback.get('operation'))} "
                    f"{escape(result.rollback.get('pr_url') or result.rollback.get('branch'))}"]
    if result.rollback_refused:
        out += ["", f"**{escape(result.rollback_refused, 1500)}**"]
    return "\n".join(out) + "\n"
