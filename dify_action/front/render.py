"""One renderer for every command's ``Result``: the CLI's text and ``--json``, the action's outputs
and the step summary. ``document(result)`` is printed by ``--json`` and is the action's ``json``
output, byte for byte, for every command.

Text from outside (image names, paths, values from repositories) is printed through
``text.safe_text`` (terminals) and the Markdown through ``markdown.escape`` (in the result).
"""

from __future__ import annotations

import json
from typing import TextIO

from dify_action.pipeline.model import Result
from dify_action.text import safe_text

OUTPUTS = ("image", "ref", "tags", "tag-names", "labels", "digest", "imageid", "size", "json", "metadata",
           "pull-request-number", "pull-request-url", "pull-request-operation", "operation", "branch", "commit",
           "images",  # the merge job's (front/merge_action.py)
           "pull-request-commits-verified", "dify-set")
PR_OPERATIONS = ("created", "updated", "closed")  # create-pull-request's values; anything else is "none"
NOTHING_TO_DO = "nothing to do: every matching reference is already at the target"


def document(result: Result) -> str:
    """The JSON document of a run (snake_case keys, stable order)."""
    return json.dumps(result.as_dict(), sort_keys=True, indent=2)


def outputs(result: Result) -> dict[str, str]:
    """The action's outputs, named like docker/metadata-action's, build-push-action's and
    create-pull-request's: the first built image, the last delivery (bump, promote, rollback), and
    ``json``/``metadata``: the document ``--json`` prints."""
    values: dict[str, str] = {}
    if result.images:
        first = result.images[0]
        values.update(image=first.image, ref=first.ref, tags="\n".join(first.references),
                      **{"tag-names": "\n".join(first.tags)}, digest=first.digest or "", imageid=first.build.image_id,
                      size=str(first.size), labels="\n".join(f"{k}={v}" for k, v in first.build.labels.items()))
    if result.deliveries:
        last = result.deliveries[-1]
        for key, value in (("operation", last.operation), ("pull-request-number", last.pr_number),
                           ("pull-request-url", last.pr_url), ("branch", last.branch), ("commit", last.commit)):
            values[key] = "" if value is None else str(value)
        values["pull-request-operation"] = last.operation if last.operation in PR_OPERATIONS else "none"
        if last.commits_verified is not None:  # create-pull-request's name; direct mode too (issue 19)
            values["pull-request-commits-verified"] = str(last.commits_verified).lower()
        if last.images:
            values.setdefault("image", last.images[0])
        if last.dify_set is not None:  # issue 21: the Dify release set before and after
            values["dify-set"] = json.dumps(last.dify_set, sort_keys=True)
    values["json"] = values["metadata"] = document(result)
    return values


def text_lines(result: Result) -> list[str]:
    """The plain-text account of a run: one line per stage, then each changed value."""
    lines = [f"{row.stage}: {row.result} {row.details}".rstrip() for row in result.rows]
    for d in result.deliveries:
        if d.operation == "none":
            lines.append(NOTHING_TO_DO)
        lines += [f"  {c.file}:{c.line}  {c.old} -> {c.new}" + (f"  ({c.where})" if c.where else "")
                  for c in d.changes]
    return lines


def print_text(result: Result, out: TextIO, err: TextIO) -> None:
    """The CLI's text: the reports of test and scan (they are the result), a dry run's diff on
    ``out`` with the account on ``err`` (so the diff can be piped to ``patch``), else the account."""
    diffs = [d.diff for d in result.deliveries if d.diff is not None]  # a dry run's, even when empty
    if result.command in ("test", "scan"):
        out.write("\n\n".join(f.strip() for f in result.fragments if f.strip()) + "\n")
        return
    for diff in diffs:
        out.write(diff)
    target = err if diffs else out
    for line in text_lines(result):
        print(safe_text(line), file=target)
