"""Pathological YAML (issue #9, item 6): deep nesting, alias bombs, recursive aliases and
duplicate keys are refused fast with a line, on every reader (bump, promote, config, --set)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dify_action import yamlguard
from dify_action.bump import find_images, yamlnodes
from dify_action.bump.tree import SourceFile
from dify_action.config import load as config
from dify_action.errors import ConfigError, InputError
from dify_action.front.cli import main

DEPLOY = (
    "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n"
    "        - name: api\n          image: acme/dify-api:1.0\n"
)
OPENERS = {"[": "]", "{k: ": "}", "{": ": v}"}


def _nested(openers: list[str], block: int, leaf: str = "acme/dify-api:1.0") -> str:
    """``block`` compact block sequences (``- - x``), then flow collections, around ``leaf``."""
    head = "- " * block + "".join(openers)
    if openers and openers[-1] == "{":  # a flow mapping whose key is the leaf
        return head + leaf + "".join(OPENERS[o] for o in reversed(openers)) + "\n"
    return head + leaf + "".join(OPENERS[o] for o in reversed(openers)) + "\n"


def _oracle_size(docs: list[yaml.Node]) -> int:
    """Nodes with aliases expanded, counted on the composed graph (aliases share node objects)."""
    memo: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) not in memo:
            children: list[yaml.Node] = []
            if isinstance(node, yaml.SequenceNode):
                children = list(node.value)
            elif isinstance(node, yaml.MappingNode):
                children = [part for pair in node.value for part in pair]
            memo[id(node)] = 1 + sum(size(child) for child in children)
        return memo[id(node)]

    return sum(size(doc) for doc in docs)


def _bomb(widths: list[int]) -> str:
    lines = ["a0: &a0 [acme/dify-api:1.0, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * w)}]" for i, w in enumerate(widths, 1)]
    return "\n".join(lines) + "\n"


def _load(text: str) -> object:
    return yamlnodes.load(SourceFile(Path("/nonexistent"), "x.yaml", text.encode(), False))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(sorted(OPENERS)), max_size=400), st.integers(0, 60))
def test_nesting_is_refused_exactly_over_the_budget_never_a_recursion_error(openers: list[str], block: int) -> None:
    text = _nested(openers, block)
    depth = len(openers) + block
    budget = yamlguard.Budget(max_depth=100)
    if depth > 100:
        with pytest.raises(yamlguard.BudgetExceeded, match="nested deeper than 100"):
            yamlguard.check(text, budget)
    else:
        yamlguard.check(text, budget)
    parsed = _load(text)
    assert (getattr(parsed, "reason", None) is not None) == (depth > 100)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=1, max_size=9))
def test_alias_expansion_is_counted_exactly(widths: list[int]) -> None:
    text = _bomb(widths)
    expected = _oracle_size(list(yaml.compose_all(text, Loader=yaml.SafeLoader)))
    budget = yamlguard.Budget(max_nodes=20_000)
    started = time.monotonic()
    if expected > budget.max_nodes:
        with pytest.raises(yamlguard.BudgetExceeded, match="alias bomb"):
            yamlguard.check(text, budget)
    else:
        yamlguard.check(text, budget)
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("opener", ["[", "{k: "])
def test_a_40kb_nesting_is_skipped_when_walked_and_bad_input_when_named(
    tmp_path: Path, opener: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "gitops"
    root.mkdir()
    (root / "api.yaml").write_text(DEPLOY)
    (root / "deep.yaml").write_text(_nested([opener] * 20_000, 0))
    before = (root / "deep.yaml").read_bytes()
    started = time.monotonic()
    assert main(["bump", "--gitops-dir", str(root), "--image", "acme/dify-api", "--tag", "2.0"]) == 0
    err = capsys.readouterr().err
    assert "deep.yaml: skipped: not valid YAML (line 1): nested deeper than 100 levels" in err
    assert "acme/dify-api:2.0" in (root / "api.yaml").read_text()
    assert [f.file for f in find_images(root)] == ["api.yaml"]  # promote's reader
    code = main(["bump", "--gitops-dir", str(root), "--image", "acme/dify-api", "--tag", "3.0", "--path", "deep.yaml"])
    assert code == 2
    assert "deep.yaml was named with --path" in capsys.readouterr().err
    assert (root / "deep.yaml").read_bytes() == before
    assert time.monotonic() - started < 10


def test_a_named_alias_bomb_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bomb.yaml").write_text(_bomb([9] * 8))
    args = ["bump", "--gitops-dir", str(tmp_path), "--image", "acme/dify-api", "--tag", "2.0", "--path", "bomb.yaml"]
    assert main(args) == 2
    assert "alias bomb" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("version: 1\nx: &a [a, a, a, a, a, a, a, a, a, a]\n"
         + "".join(f"y{i}: &a{i} [{', '.join(['*a' if i == 0 else f'*a{i - 1}'] * 10)}]\n" for i in range(9)),
         None, "alias bomb"),
        ("version: 1\nscan: &s\n  severity: [*s]\n", 3, "recursive alias"),
        ("version: 1\nscan:\n  x: " + "[" * 5000 + "]" * 5000 + "\n", 3, "nested deeper than 32"),
        ("version: 1\nscan:\n  x:\n    " + "- " * 40 + "y\n", 4, "nested deeper than 32"),
    ],
)
def test_config_refuses_pathological_yaml_fast_with_a_line(text: str, line: int | None, problem: str) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        config.load(text=text)
    assert time.monotonic() - started < 2
    assert problem in str(caught.value) and caught.value.exit_code == 2
    if line is not None:
        assert caught.value.line == line


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(2, 30), min_size=1, max_size=12))
def test_config_alias_graphs_never_hang(widths: list[int]) -> None:
    text = "version: 1\n" + "".join(
        f"x{i}: &a{i} [{', '.join(['z' if i == 0 else f'*a{i - 1}'] * w)}]\n" for i, w in enumerate(widths)
    )
    started = time.monotonic()
    try:
        config.load(text=text)
    except InputError as error:
        assert error.exit_code == 2
    assert time.monotonic() - started < 2


def test_set_flag_value_is_bounded() -> None:
    override = config.parse_set("scan.severity=" + "[" * 50_000)
    assert isinstance(override.value, str)  # not YAML under the budget: kept as the text given


@pytest.mark.parametrize(
    "text",
    [
        "image:\n  repository: acme/dify-api\n  tag: '1.0'\n  tag: '1.1'\n",
        "image:\n  repository: acme/dify-api\n  repository: acme/other\n  tag: '1.0'\n",
        "spec:\n  containers:\n    - name: a\n      image: acme/dify-api:1.0\n      image: acme/dify-api:1.1\n",
    ],
)
def test_a_duplicate_key_beside_a_target_is_refused_not_half_edited(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "values.yaml").write_text(text)
    (tmp_path / "ok.yaml").write_text(DEPLOY)
    assert main(["bump", "--gitops-dir", str(tmp_path), "--image", "acme/dify-api", "--tag", "2.0"]) == 2
    assert "appears twice in the mapping" in capsys.readouterr().err
    assert (tmp_path / "values.yaml").read_text() == text
    assert (tmp_path / "ok.yaml").read_text() == DEPLOY


def test_a_duplicate_key_elsewhere_in_the_file_does_not_block_the_bump(tmp_path: Path) -> None:
    text = "other: {a: 1, a: 2}\nimage:\n  repository: acme/dify-api\n  tag: '1.0'\n"
    (tmp_path / "values.yaml").write_text(text)
    assert main(["bump", "--gitops-dir", str(tmp_path), "--image", "acme/dify-api", "--tag", "2.0"]) == 0
    assert (tmp_path / "values.yaml").read_text() == text.replace("'1.0'", "'2.0'")


@pytest.mark.parametrize(
    "data",
    [
        "[" * 2_000_000,
        "[" + "a," * 300_000 + "acme/dify-api:1]",
        "- a\n" * 500_000,
        "x: &a [" + "b," * 1000 + "b]\ny: [" + "*a," * 600_000 + "*a]\n",
    ],
    ids=["deep", "wide", "long", "aliases"],
)
def test_a_2mb_pathological_file_is_refused_fast(tmp_path: Path, data: str) -> None:
    (tmp_path / "big.yaml").write_text(data)
    (tmp_path / "api.yaml").write_text(DEPLOY)
    started = time.monotonic()
    assert [f.file for f in find_images(tmp_path)] == ["api.yaml"]
    assert time.monotonic() - started < 5
