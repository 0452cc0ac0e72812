"""scripts/check-imports: it must fail on every import cycle (module level, inside a function, under
TYPE_CHECKING, relative, ``from pkg import submodule``) and on imports against the layers, and pass
on dify_action itself. Packages are generated in a temp directory and checked for real."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check-imports"


def _script() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("check_imports", str(SCRIPT))
    spec = importlib.util.spec_from_loader("check_imports", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_imports"] = module  # dataclasses look their module up while the class is built
    loader.exec_module(module)
    return module


check = _script()


def _package(tmp: Path, files: dict[str, str], name: str = "pkg") -> Path:
    root = tmp / name
    for rel, text in {"__init__.py": "", **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        for folder in path.relative_to(root).parents:
            (root / folder / "__init__.py").touch()
        path.write_text(text)
    return root


def _run(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(root)], capture_output=True, text=True, check=False)


def test_dify_action_has_no_cycle_and_its_layers_point_one_way() -> None:
    result = _run(ROOT / "dify_action")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no cycle" in result.stdout


def test_an_acyclic_package_passes(tmp_path: Path) -> None:
    root = _package(tmp_path, {"a.py": "from pkg import b\n", "b.py": "import os\n"})
    result = _run(root)
    assert (result.returncode, result.stdout.split(":")[0]) == (0, "check-imports")


def test_a_module_level_cycle_is_named_with_its_import_lines(tmp_path: Path) -> None:
    root = _package(tmp_path, {"a.py": "import os\nfrom pkg.b import x\n", "b.py": "import pkg.a\nx = 1\n"})
    result = _run(root)
    assert result.returncode == 1
    assert "import cycle of 2 modules: pkg.a, pkg.b" in result.stdout
    assert "pkg.a -> pkg.b  (pkg/a.py:2, module level)" in result.stdout
    assert "pkg.b -> pkg.a  (pkg/b.py:1, module level)" in result.stdout


def test_a_cycle_through_a_function_body_import_fails(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "model.py": "def load():\n    from pkg.engine import run\n    return run\n",
        "engine.py": "from pkg.model import load\n\ndef run():\n    return load\n",
    })
    result = _run(root)
    assert result.returncode == 1
    assert "pkg.model -> pkg.engine  (pkg/model.py:2, in function load)" in result.stdout


def test_relative_type_checking_and_package_face_cycles_fail(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "bump/__init__.py": "from .engine import plan\n",
        "bump/engine.py": "from . import nodes\n\ndef plan():\n    return nodes\n",
        "bump/nodes.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.bump import plan\n",
    })
    result = _run(root)
    assert result.returncode == 1
    assert "import cycle of 3 modules: pkg.bump, pkg.bump.engine, pkg.bump.nodes" in result.stdout
    assert "(pkg/bump/nodes.py:3, under if TYPE_CHECKING)" in result.stdout


def test_layer_rules_name_the_rule_and_the_import(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "engine/docker.py": "def push():\n    from pkg.bump import model\n",
        "bump/model.py": "from pkg.front import cli\n",
        "front/cli.py": "",
        "errors.py": "from pkg.registry import client\n",
        "registry/client.py": "",
        "__main__.py": "from pkg.front import cli\n",
        "dify/report.py": "from pkg.bump import model\n\ndef hook():\n    from pkg.promote import run\n",
        "promote/run.py": "",
    })
    result = _run(root)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert "adapters never import stages: pkg.engine.docker imports pkg.bump.model " \
           "(pkg/engine/docker.py:2, in function push)" in lines
    assert "the front ends sit on top, the core never imports front/: pkg.bump.model imports pkg.front.cli " \
           "(pkg/bump/model.py:1, module level)" in lines
    assert "stages never import what drives them: pkg.bump.model imports pkg.front.cli " \
           "(pkg/bump/model.py:1, module level)" in lines
    assert "the cross-cutting floor imports only the floor: pkg.errors imports pkg.registry.client " \
           "(pkg/errors.py:1, module level)" in lines
    assert "domain packages never import the stages that use them: pkg.dify.report imports pkg.promote.run " \
           "(pkg/dify/report.py:4, in function hook)" in lines  # its import of bump (line 1) is allowed
    assert not any("pkg.__main__" in line for line in lines)  # the CLI entry may import the front end
    assert len(lines) == 5


def test_a_bad_argument_exits_2(tmp_path: Path) -> None:
    result = _run(tmp_path)  # no __init__.py: not a package
    assert result.returncode == 2
    assert "give one package directory" in result.stderr


def _has_cycle(n: int, arcs: set[tuple[int, int]]) -> bool:
    state = [0] * n  # 0 new, 1 on the path, 2 done

    def visit(node: int) -> bool:
        state[node] = 1
        for a, b in arcs:
            if a == node and (state[b] == 1 or (state[b] == 0 and visit(b))):
                return True
        state[node] = 2
        return False

    return any(state[node] == 0 and visit(node) for node in range(n))


STYLES = (
    "import pkg.m{t}\n",
    "from pkg import m{t}\n",
    "from . import m{t}\n",
    "from .m{t} import VALUE\n",
    "def f{t}():\n    from pkg.m{t} import VALUE\n    return VALUE\n",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.m{t}\n",
)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 6).flatmap(lambda n: st.tuples(
    st.just(n),
    st.sets(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda a: a[0] != a[1]), max_size=10),
    st.lists(st.sampled_from(STYLES), min_size=10, max_size=10),
)))
def test_every_generated_graph_is_judged_like_a_depth_first_search(
    case: tuple[int, set[tuple[int, int]], list[str]],
) -> None:
    """Random graphs, every import written in one of the styles: a cycle is reported exactly when
    the graph has one, and every reported component is a real circle of the graph."""
    import tempfile

    n, arcs, styles = case
    with tempfile.TemporaryDirectory() as tmp:
        files = {f"m{i}.py": "VALUE = 1\n" for i in range(n)}
        for index, (a, b) in enumerate(sorted(arcs)):
            files[f"m{a}.py"] += styles[index % len(styles)].format(t=b)
        root = _package(Path(tmp), files)
        mods, graph = check.edges(root)
        assert {(e.source, e.target) for e in graph} == {(f"pkg.m{a}", f"pkg.m{b}") for a, b in arcs}
        found = check.cycles(mods, graph)
        assert bool(found) == _has_cycle(n, arcs)
        for component in found:
            circle = check._path(component, graph)
            assert circle[0].source == circle[-1].target
            assert {e.source for e in circle} <= set(component)
