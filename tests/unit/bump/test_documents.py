"""Only the documents that mention the image are composed (issue 22, class 7): for any
multi-document file, the plan is the one a full composition gives, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dify_action.bump import Target, plan_bump
from dify_action.bump.find import find_all
from dify_action.bump.tree import SourceFile
from dify_action.bump.yamlnodes import Parsed, load
from dify_action.errors import DifyActionError, NotDeployed

IMAGE = "registry.example.com/acme/dify-api"
DEPLOY = ("kind: Deployment\nmetadata: {{name: api{i}}}\nspec:\n  template:\n    spec:\n      containers:\n"
          "        - name: api\n          image: {image}:1.{i}  # é 中\n")
OTHERS = [
    "kind: Service\nmetadata: {name: svc}\nspec: {ports: [{port: 80}]}\n",
    "kind: ConfigMap\nmetadata: {name: notes}\ndata:\n  readme: |\n    --- indented, not a marker\n    é中文 ñ\n",
    "kind: CustomResourceDefinition\nmetadata: {name: x}\nspec:\n  description: \"" + "long text " * 200 + "\"\n",
    "# only a comment that says dify-api\n",
    "",
    "kind: Deployment\nspec: {template: {spec: {containers: [{name: w, image: 'other/web:2'}]}}}\n",
]
SEPARATORS = ["---\n", "--- \n", "...\n---\n", "--- # next\n"]


def _written(tmp_path_factory: object, text: str) -> SourceFile:
    """``text`` as the one file of a fresh tree."""
    data = text.encode()
    root = Path(str(tmp_path_factory.mktemp("t")))  # type: ignore[attr-defined]
    (root / "all.yaml").write_bytes(data)
    return SourceFile(root, "all.yaml", data, False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.sampled_from(OTHERS), st.sampled_from(SEPARATORS)), min_size=1,
                max_size=6), st.booleans())
def test_blanking_other_documents_changes_nothing_in_the_plan(
        tmp_path_factory: object, docs: list[tuple[bool, str, str]], crlf: bool) -> None:
    parts = []
    for index, (mentions, other, separator) in enumerate(docs):
        body = DEPLOY.format(i=index, image=IMAGE) if mentions else other
        parts.append((separator if index else "") + body)
    text = "".join(parts)
    if crlf:
        text = text.replace("\n", "\r\n")
    source = _written(tmp_path_factory, text)
    root = source.root
    full, part = load(source), load(source, lambda doc: b"dify-api:" in doc)
    # a file libyaml refuses whole ("..." after a comment-only document) is not this property's
    # subject: a syntax error in a document that does not mention the image is not looked for
    assume(isinstance(full, Parsed))
    assert isinstance(part, Parsed) and part.text == full.text
    hits = [(h.line, h.value.start_mark.index if h.value else None, h.where) for h in find_all(full)
            if h.current.repository.endswith("dify-api")]
    assert [(h.line, h.value.start_mark.index if h.value else None, h.where) for h in find_all(part)
            if h.current.repository.endswith("dify-api")] == hits
    if not any(mentions for mentions, _, _ in docs):
        with pytest.raises(NotDeployed):
            plan_bump(root, [Target.from_inputs(IMAGE, "9.9")])
        return
    plan = plan_bump(root, [Target.from_inputs(IMAGE, "9.9")])
    expected = text
    for index, (mentions, _, _) in enumerate(docs):
        if mentions:
            expected = expected.replace(f"{IMAGE}:1.{index} ", f"{IMAGE}:9.9 ")
    assert [edit.after for edit in plan.edits] == [expected.encode()]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.booleans(), st.booleans(), st.sampled_from(["", "bad: [unclosed\n", "dup: 1\ndup: 2\n"]))
def test_a_kept_document_after_large_blanked_ones_is_composed_alone_with_the_whole_texts_marks(
        tmp_path_factory: object, blanked: int, crlf: bool, trailing: bool, extra: str) -> None:
    """A bundle of CRDs ending with the one Deployment that runs the image: only that document is
    given to libyaml, and its marks (index, line, column), its refusals and its plan are the ones
    of the whole text."""
    crd = OTHERS[2].replace("long text", "long t\u00e9xt \u4e2d")  # non-ASCII: blanked bytes are not characters
    text = "".join(f"---\n{crd}" for _ in range(blanked)) + "---\n" + extra + DEPLOY.format(i=7, image=IMAGE)
    text += "---\n" + OTHERS[0] if trailing else ""
    if crlf:
        text = text.replace("\n", "\r\n")
    source = _written(tmp_path_factory, text)
    root, data = source.root, source.data
    full, part = load(source), load(source, lambda doc: b"dify-api:" in doc, prune=True)
    if not isinstance(full, Parsed):
        assert part == full  # the same refusal, with the whole text's line
        return
    assert isinstance(part, Parsed) and part.text == full.text and part.start > 0
    marks = [(n.start_mark.index, n.start_mark.line, n.start_mark.column, n.end_mark.index, n.end_mark.line)
             for h in find_all(full) if h.current.repository.endswith("dify-api") for n in [h.value] if n]
    assert marks and [(n.start_mark.index, n.start_mark.line, n.start_mark.column, n.end_mark.index,
                       n.end_mark.line) for h in find_all(part) if h.current.repository.endswith("dify-api")
                      for n in [h.value] if n] == marks
    try:
        plan = plan_bump(root, [Target.from_inputs(IMAGE, "9.9")])
    except DifyActionError as error:
        assert "dup" in extra and "appears twice" in str(error)
        return
    assert [edit.after for edit in plan.edits] == [data.replace(f"{IMAGE}:1.7 ".encode(), f"{IMAGE}:9.9 ".encode())]
