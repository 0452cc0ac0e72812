"""The action's ``command: merge`` (issue 20): the merge job of the reusable pipeline's platform matrix.

Inputs: ``results`` (the platform jobs' JSON documents: files or directories of them, one per line),
``platforms`` (the set that must be complete), ``tags`` (optional override), the registry
credentials. Outputs like a build: ``image``, ``ref``, ``digest`` (the index), ``tags``, ``json``,
and ``images``: ``repository:tag@index-digest`` of every component, one per line, for the bump.
"""

from __future__ import annotations

import json
from pathlib import Path

from dify_action.build.merge import Merged, describe, merge, parse_results
from dify_action.errors import InputError
from dify_action.front import gha
from dify_action.markdown import code, escape, row
from dify_action.pipeline.model import deploy_tag
from dify_action.registry import Credentials, clients_for


def run_merge(a: gha.Actions, workspace: str | None) -> list[Merged]:
    """Read and check every input, merge, write the outputs and the summary."""
    files = [line.strip() for line in a.input("results").splitlines() if line.strip()]
    if not files:
        raise InputError("results", "", "the JSON result files of the platform jobs, one per line")
    documents = []
    paths = []
    for name in files:  # a directory stands for the JSON files in it (an artifact download)
        path = Path(workspace or ".") / name
        paths += sorted(path.glob("*.json")) if path.is_dir() else [path]
    for path in paths:
        name = str(path)
        try:
            documents.append((name, json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError) as error:
            raise InputError("results", name, f"a readable JSON file ({type(error).__name__})") from None
    results = parse_results(documents)
    username, password = a.input("registry-username"), a.input("registry-password")
    if bool(username) != bool(password):
        raise InputError("registry-password" if username else "registry-username", "",
                         "a registry user and its password (both or neither)")
    creds = Credentials(username, password) if username and password else None
    merged = list(merge(results, a.input("platforms") or None, clients_for(creds), a.items("tags")))
    first = merged[0]
    document = json.dumps(describe(merged), sort_keys=True)
    for name, value in (("image", first.image), ("ref", f"{first.image}:{deploy_tag(first.tags)}"),
                        ("digest", first.digest), ("tags", "\n".join(f"{first.image}:{t}" for t in first.tags)),
                        ("tag-names", "\n".join(first.tags)), ("json", document), ("metadata", document),
                        ("images", "\n".join(f"{m.image}:{deploy_tag(m.tags)}@{m.digest}" for m in merged))):
        a.set_output(name, value)
    lines = [row("image", "index", "platforms"), row("---", "---", "---")]
    lines += [row(code(f"{m.image}:{','.join(m.tags)}"), code(m.digest),
                  escape(", ".join(f"{p.platform} {p.digest[:19]}" for p in m.platforms))) for m in merged]
    a.summary("## dify-action merge: passed\n\n" + "\n".join(lines))
    return merged
