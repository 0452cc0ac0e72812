"""Each input kind gets the budget of its real producer (issue 22, class 2): a large legitimate
Dify export under Dify's 10 MB import limit is checked, not refused by the config file's YAML
budget; nesting and alias bombs are still refused, quickly."""

from __future__ import annotations

import time

import pytest

from dify_action.dify.dsl import DSL_BUDGET, MAX_BYTES, check_text

HEAD = "kind: app\nversion: 0.3.0\napp: {name: big, mode: workflow}\nworkflow:\n  graph:\n    nodes:\n"
NODE = ("      - id: 'n{i}'\n        data:\n          type: {kind}\n          title: step {i}\n"
        "          variables: [{{variable: a{i}, value_selector: ['n0', 'text']}}, {{variable: b{i}, "
        "value_selector: ['n0', 'query']}}]\n          prompt_template: [{{role: system, text: 'You are step {i}.'}}]\n"
        "          position: {{x: {i}, y: 0}}\n")


def export(count: int) -> str:
    nodes = "".join(NODE.format(i=i, kind="start" if i == 0 else "llm") for i in range(count))
    edges = "".join(f"      - {{id: e{i}, source: 'n{i - 1}', target: 'n{i}'}}\n" for i in range(1, count))
    return HEAD + nodes + "    edges:\n" + edges


@pytest.mark.parametrize("count", [3_000])  # ~90,000 nodes: over the config budget of 50,000
def test_a_large_legitimate_export_is_checked_not_refused(count: int) -> None:
    text = export(count)
    assert len(text.encode()) < MAX_BYTES
    checked = check_text(text, "big.yml", "0.3.0")
    assert not any("refusing to read it" in f.text for f in checked.findings), checked.findings[:1]
    assert checked.verdict == "completed" and not checked.blocks


@pytest.mark.parametrize("text", [
    "kind: app\nx: " + "[" * (10 * DSL_BUDGET.max_depth) + "]" * (10 * DSL_BUDGET.max_depth) + "\n",
    "kind: app\na: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(7)),
])
def test_bombs_at_ten_times_the_budget_are_refused_quickly(text: str) -> None:
    start = time.process_time()
    checked = check_text(text, "bomb.yml", "0.3.0")
    assert checked.verdict == "failed" and checked.blocks
    assert time.process_time() - start < 10  # CPU seconds; the expansion itself would be 10^8 nodes
