"""Property: for generated manifests, a bump changes exactly the targeted values' bytes and the
result re-parses to the original tree with only those values replaced."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dify_action.bump import Target, apply_plan, plan_bump

TARGET = "registry.local:5000/acme/dify-api"
REPOS = [TARGET, "registry.local:5000/acme/dify-api-extra", "acme/dify-api", "registry.local:5000/acme/dify-web"]
tags = st.from_regex(r"v[0-9]{1,3}(\.[0-9]{1,3}){0,2}(-[a-z]{1,5}\.[0-9]{1,2})?", fullmatch=True)
styles = st.sampled_from(["plain", "single", "double"])
comments = st.one_of(st.just(""), st.from_regex(r"  # [a-z :'\"{}-]{0,20}", fullmatch=True))
container = st.tuples(st.sampled_from(REPOS), tags, styles, comments, st.booleans())
helm = st.tuples(st.sampled_from(REPOS), tags, styles, comments)


def _quote(value: str, style: str) -> str:
    return {"plain": value, "single": f"'{value}'", "double": f'"{value}"'}[style]


def _render(containers: list[tuple[str, str, str, str, bool]], helms: list[tuple[str, str, str, str]],
            newline: str, new_tag: str | None) -> str:
    def tag_for(repo: str, tag: str) -> str:
        return new_tag if new_tag is not None and repo == TARGET else tag

    lines = ["# generated", "apiVersion: apps/v1", "kind: Deployment", "metadata:", "  name: dify-api",
             "spec:", "  template:", "    spec:", "      containers:"]
    for index, (repo, tag, style, comment, blank) in enumerate(containers):
        lines.append(f"        - name: c{index}")
        lines.append(f"          image: {_quote(f'{repo}:{tag_for(repo, tag)}', style)}{comment}")
        if blank:
            lines.append("")
    for index, (repo, tag, style, comment) in enumerate(helms):
        lines += ["---", f"component{index}:", "  image:", f"    repository: {repo}",
                  f"    tag: {_quote(tag_for(repo, tag), style)}{comment}", "    pullPolicy: IfNotPresent"]
    return newline.join(lines) + newline


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    containers=st.lists(container, min_size=1, max_size=6),
    helms=st.lists(helm, max_size=3),
    newline=st.sampled_from(["\n", "\r\n"]),
    new_tag=tags,
)
def test_bump_changes_only_targeted_spans(containers, helms, newline, new_tag) -> None:  # type: ignore[no-untyped-def]
    before = _render(containers, helms, newline, None)
    expected = _render(containers, helms, newline, new_tag)
    assume(any(c[0] == TARGET for c in containers) or any(h[0] == TARGET for h in helms))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "manifest.yaml"
        path.write_bytes(before.encode())
        plan = plan_bump(Path(tmp), [Target.from_inputs(TARGET, new_tag)])
        apply_plan(plan)
        after = path.read_bytes().decode()
    assert after == expected
    assert list(yaml.safe_load_all(after)) == list(yaml.safe_load_all(expected))
    changed_targets = sum(1 for c in containers if c[0] == TARGET and c[1] != new_tag)
    changed_targets += sum(1 for h in helms if h[0] == TARGET and h[1] != new_tag)
    assert len(plan.changes) == changed_targets
