"""Of a large document, only the root values that mention the image are composed (issue 22,
class 7): on generated documents, the plan (or the refusal) is the one a full composition gives,
byte for byte; the shapes ``regions`` trusts without libyaml are closed by libyaml's own reading."""

from __future__ import annotations

import ast
import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dify_action.bump import Target, plan_bump, regions
from dify_action.bump.tree import SourceFile
from dify_action.bump.yamlnodes import Parsed, load
from dify_action.errors import DifyActionError

IMAGE = "registry.example.com/acme/dify-api"
MENTIONS = [  # root entries that deploy the image, in the shapes a values file holds it
    "api:\n  image:\n    repository: {image}\n    tag: \"1.{i}\"  # pinned\n",
    "api{i}:\n  deploy:\n    containers:\n      - name: a\n        image: {image}:1.{i}\n",
    "web:\n  image: {{repository: {image}, tag: '1.{i}'}}\n",
    "chart:\n  image:\n    registry: registry.example.com\n    repository: acme/dify-api\n    tag: 1.{i}\n",
]
# root values that do not mention it: every construct the split must see through or refuse
FILLERS = [
    "  k: v\n  nested:\n    deeper: [a, b]\n",
    "  s0: {enabled: true, note: \"x]} {[\"}\n  s1: {enabled: false, note: 'y'}\n",
    "  list: [a,\n    b, {c: d}]\n",
    "  q: \"line one [\n    still ] quoted\"\n",
    "  q: 'it''s [x'\n  r: '{'\n",
    "  text: |\n    some [ { \" ' text\n    - not a list\n  after: 1\n",
    "# a comment at column 0 [ {\n  x: 1\n  # indented ]\n",
    "  a: &x 1\n  b: *x\n",
    "  t: !!str 5\n",
    "  v: ${X}\n",
    "  u: \"\u00e9\u4e2d [\"\n  w: \u00e9\u4e2d\n",
    "  - a\n  - [b, {c: [d]}]\n",
    "  plain: a [ b ] { c\n  more: x]\n",
    "  m: multi line\n    plain scalar ]\n",
    "  - - - - nested: [x]\n",
    "  deep:" + "".join("\n" + "  " * (level + 2) + f"l{level}:" for level in range(60)) + " end\n",
    "  flow: " + "[" * 120 + "]" * 120 + "\n",
    "  flow: " + "".join("[\n" for _ in range(110)) + "]" * 110 + "\n",
    "  dq: \"a\\\" ] b\"\n",
    "  k: v\n\tbad: tab\n",
    "  x: \"a\n",  # a quote left open: the lines after it (column 0 too) are inside it
    "  y: [a,\n",
    "  k\"\n",  # closes a quote opened above the key
    "  key: [a, \"b\n  c]\", d]\n",
]
KEYS = ["config", "extra", "settings", "global", "kind", "api", "config", "x-common", "first"]
TOPS = ["", "other: plain\n", "q: \"abc\n", f"image: {IMAGE}:1.0 #\"\n", f"run: {IMAGE}:1.0 ]\n", "end\"\n",
        "q: \"abc\ndef: x\"\n", "f: [a,\nb]\n", "---\n", "g: {a: b}\n", "dup:\ndup: 1\n"]


@contextlib.contextmanager
def pruning(at: int) -> Iterator[None]:
    saved = regions.PRUNE_AT
    regions.PRUNE_AT = at
    try:
        yield
    finally:
        regions.PRUNE_AT = saved


def outcome(root: Path) -> tuple[object, ...]:
    try:
        plan = plan_bump(root, [Target.from_inputs(IMAGE, "9.9")])
    except DifyActionError as error:
        return ("refused", type(error).__name__, str(error), getattr(error, "warnings", ()))
    return ("planned", [edit.after for edit in plan.edits], plan.changes, plan.notes, plan.skipped)


entries = st.lists(
    st.one_of(
        st.tuples(st.just("mention"), st.sampled_from(range(len(MENTIONS)))),
        st.tuples(st.sampled_from(KEYS), st.sampled_from(range(len(FILLERS)))),
        st.tuples(st.just("top"), st.sampled_from(range(len(TOPS)))),
    ),
    min_size=1, max_size=8,
)


def document(items: list[tuple[str, int]]) -> str:
    parts = []
    for index, (kind, choice) in enumerate(items):
        if kind == "mention":
            parts.append(MENTIONS[choice].format(image=IMAGE, i=index))
        elif kind == "top":
            parts.append(TOPS[choice])
        else:
            parts.append(f"{kind}:" + (" # values\n" if index % 2 else "\n") + FILLERS[choice])
    return "".join(parts)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries, st.booleans())
# a value that leaves a quote or a flow open: the image line below it is inside, not a root key
@example([("config", FILLERS.index('  x: "a\n')), ("top", TOPS.index(f'image: {IMAGE}:1.0 #"\n'))], False)
@example([("config", FILLERS.index("  y: [a,\n")), ("top", TOPS.index(f"run: {IMAGE}:1.0 ]\n"))], True)
# a key line inside a quote opened above it
@example([("top", TOPS.index('q: "abc\n')), ("config", FILLERS.index('  k"\n')),
          ("top", TOPS.index(f'image: {IMAGE}:1.0 #"\n'))], False)
def test_composing_part_of_a_document_gives_the_plan_of_the_whole(
        tmp_path_factory: object, items: list[tuple[str, int]], crlf: bool) -> None:
    text = document(items)
    if crlf:
        text = text.replace("\n", "\r\n")
    root = Path(str(tmp_path_factory.mktemp("t")))  # type: ignore[attr-defined]
    (root / "values.yaml").write_bytes(text.encode())
    with pruning(10**9):
        whole = outcome(root)
    with pruning(0):
        part = outcome(root)
    assert part == whole


def test_a_large_values_file_is_composed_in_part_and_planned_as_a_whole(tmp_path: Path) -> None:
    settings_text = "".join(f"  setting{j}: {{enabled: true, replicas: {j % 5}, note: \"{'x' * 60}\"}}\n"
                            for j in range(600))
    text = (f"# values\nconfig:\n{settings_text}global:\n  imageRegistry: registry.example.com\n"
            f"image:\n  repository: acme/dify-api\n  tag: \"1.0\"\nresources:\n  limits: {{cpu: 1}}\n")
    (tmp_path / "values.yaml").write_text(text)
    source = SourceFile(tmp_path, "values.yaml", text.encode(), False)
    parsed = load(source, lambda data: b"dify-api" in data, prune=True)
    assert isinstance(parsed, Parsed) and parsed.blanked
    composed = regions.blank_text(parsed.text, parsed.blanked)
    assert "setting1:" not in composed and composed.count("\n") == text.count("\n")
    assert len(composed) == len(parsed.text) and "global:\n  imageRegistry" in composed
    with pruning(10**9):
        whole = outcome(tmp_path)
    assert outcome(tmp_path) == whole
    assert whole[0] == "planned" and whole[1] == [text.replace('tag: "1.0"', 'tag: "9.9"').encode()]


def test_a_deep_value_is_refused_as_the_whole_document_refuses_it(tmp_path: Path) -> None:
    deep = "".join("\n" + "  " * (level + 1) + f"l{level}:" for level in range(101))
    text = f"api:\n  image: {IMAGE}:1.0\nconfig:{deep} end\n" + "# padding\n" * 2000
    (tmp_path / "values.yaml").write_text(text)
    with pruning(10**9):
        whole = outcome(tmp_path)
    assert whole[0] == "refused" and "nested deeper than 100 levels" in str(whole)
    assert outcome(tmp_path) == whole


LINE_ALPHABET = st.sampled_from(["a", "b", " ", ":", ": ", "- ", "\"", "'", "[", "]", "{", "}", ",", "#", " #", "\\"])


@settings(max_examples=2000, deadline=None)
@given(st.lists(LINE_ALPHABET, min_size=1, max_size=14).map("".join), st.integers(0, 4))
def test_a_line_of_the_closed_shape_ends_outside_quotes_and_flows(line: str, indent: int) -> None:
    """What ``_CLOSED`` certifies without libyaml, libyaml confirms: such a line, read where a
    line starts (also as a value's continuation), never leaves a quote or a flow collection open."""
    text = " " * indent + line
    if re.fullmatch(regions._CLOSED, text.encode()) is None:
        return
    for before in ("", "key:\n", "- x\n", "key: plain\n"):
        try:
            tokens = list(yaml.scan(before + text + "\n", Loader=yaml.CSafeLoader))
        except yaml.YAMLError as error:
            assert "end of stream" not in str(error) and "unexpected end" not in str(error), (text, error)
            continue
        opened = sum(isinstance(t, yaml.FlowSequenceStartToken | yaml.FlowMappingStartToken) for t in tokens)
        closed = sum(isinstance(t, yaml.FlowSequenceEndToken | yaml.FlowMappingEndToken) for t in tokens)
        assert opened == closed <= 1, text


def test_every_key_the_kinds_read_by_name_is_a_context_key() -> None:
    """A root value the kinds read whatever it holds (``get(doc, "global")``) is never blanked."""
    package = Path(regions.__file__).parent
    literals = {
        node.args[1].value
        for module in package.glob("*.py")
        for node in ast.walk(ast.parse(module.read_text()))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "get" and len(node.args) == 2
        and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
    }
    assert literals and literals <= regions.CONTEXT_KEYS, literals - regions.CONTEXT_KEYS
