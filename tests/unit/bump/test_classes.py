"""The shapes of issue 11 as classes: generated layouts (depth, indentation, quoting, comments,
CRLF, registry placement), each checked on the whole output text against an edit made by hand."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dify_action.bump import Target, apply_plan, find_images, plan_bump
from dify_action.errors import EditRefused

QUOTES = st.sampled_from(["", "'", '"'])
NEWLINES = st.sampled_from(["\n", "\r\n"])
COMMENTS = st.sampled_from(["", "  # pinned by CI", " #x"])
KEYS = st.lists(st.from_regex(r"[a-z][a-zA-Z0-9]{0,8}", fullmatch=True), min_size=0, max_size=3, unique=True)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _bump(files: dict[str, str], targets: list[Target]) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(text.encode())
        apply_plan(plan_bump(root, targets))
        return {name: (root / name).read_bytes().decode() for name in files}


def _nest(keys: list[str], body: list[str], indent: int) -> list[str]:
    lines = [" " * (indent * depth) + f"{key}:" for depth, key in enumerate(keys)]
    return lines + [" " * (indent * len(keys)) + line for line in body]


@SETTINGS
@given(keys=KEYS, indent=st.integers(2, 4), quote=QUOTES, comment=COMMENTS, newline=NEWLINES,
       name_key=st.sampled_from(["name", "repository"]), tag_key=st.sampled_from(["tag", "version"]),
       registry=st.sampled_from(["none", "local", "global"]))
def test_helm_image_mappings(
    keys: list[str], indent: int, quote: str, comment: str, newline: str, name_key: str, tag_key: str, registry: str
) -> None:
    pad = " " * indent
    body = ["image:"]
    if registry == "local":
        body.append(f"{pad}registry: ghcr.io")
    repository = "ghcr.io/acme/dify-api" if registry == "none" else "acme/dify-api"
    body += [f"{pad}{name_key}: {repository}", f"{pad}{tag_key}: {quote}1.13.3{quote}{comment}",
             f"{pad}pullPolicy: IfNotPresent"]
    lines = _nest(keys, body, indent)
    if registry == "global":
        lines = ["global:", f"{pad}image:", f"{pad}{pad}registry: ghcr.io", *lines]
    text = newline.join([*lines, "other:", f"{pad}image: {{name: ghcr.io/acme/dify-web, tag: 1.13.3}}", ""])
    out = _bump({"values.yaml": text}, [Target.from_inputs("ghcr.io/acme/dify-api", "1.14.0")])
    assert out["values.yaml"] == text.replace(f"{tag_key}: {quote}1.13.3", f"{tag_key}: {quote}1.14.0", 1)


@SETTINGS
@given(indent=st.integers(2, 8), outer=st.integers(0, 3), newline=NEWLINES, quote=QUOTES, comment=COMMENTS,
       chomp=st.sampled_from(["", "-", "+"]), kind=st.sampled_from(["Application", "ApplicationSet"]))
def test_argocd_helm_values_blocks(
    indent: int, outer: int, newline: str, quote: str, comment: str, chomp: str, kind: str
) -> None:
    pad = " " * indent
    spec = "spec:\n  template:\n    spec:\n      source:\n" if kind == "ApplicationSet" else "spec:\n  source:\n"
    at = "        " if kind == "ApplicationSet" else "    "
    block = [f"# the chart's values, as a string{comment}", "api:", f"{pad}image:",
             f"{pad}{pad}repository: acme/dify-api", f"{pad}{pad}tag: {quote}1.13.3{quote}{comment}",
             "web:", f"{pad}image: acme/dify-web:1.13.3", ""]
    inner = " " * (len(at) + 2 + indent + outer)
    text = (f"apiVersion: argoproj.io/v1alpha1\nkind: {kind}\n{spec}{at}chart: dify\n{at}helm:\n"
            f"{at}  values: |{chomp}\n" + "\n".join(inner + line if line else "" for line in block)
            + f"{at}  releaseName: dify\n").replace("\n", newline)
    out = _bump({"app.yaml": text}, [Target.from_inputs("acme/dify-api", "1.14.0")])
    assert out["app.yaml"] == text.replace(f"tag: {quote}1.13.3", f"tag: {quote}1.14.0")
    found = [image for image in find_images_in(text) if image.ref.path == "acme/dify-api"]
    assert [str(image.ref) for image in found] == ["acme/dify-api:1.13.3"]
    values = yaml.safe_load(out["app.yaml"])
    source = values["spec"]["template"]["spec"]["source"] if kind == "ApplicationSet" else values["spec"]["source"]
    assert yaml.safe_load(source["helm"]["values"])["api"]["image"]["tag"] == "1.14.0"


def find_images_in(text: str) -> list[object]:
    with tempfile.TemporaryDirectory() as temp:
        (Path(temp) / "app.yaml").write_bytes(text.encode())
        return list(find_images(Path(temp)))


@SETTINGS
@given(quote=QUOTES, export=st.booleans(), comment=COMMENTS, newline=NEWLINES, spaces=st.sampled_from(["", " "]),
       form=st.sampled_from(["${TAG}", "${TAG:-1.0}", "${TAG-1.0}", "$TAG"]))
def test_compose_variables_with_an_env_file(
    quote: str, export: bool, comment: str, newline: str, spaces: str, form: str
) -> None:
    compose = f"services:\n  api:\n    image: acme/dify-api:{form}\n  worker:\n    image: 'acme/dify-api:{form}'\n"
    line = f"{'export ' if export else ''}TAG{spaces}={spaces}{quote}1.13.3{quote}{comment if quote else ''}"
    env = newline.join(["# pins", "OTHER=1", line, ""])
    target = Target.from_inputs("acme/dify-api", "1.14.0", env_file="deploy/.env")
    out = _bump({"deploy/compose.yaml": compose, "deploy/.env": env}, [target])
    assert out["deploy/.env"] == env.replace(f"{quote}1.13.3", f"{quote}1.14.0")
    assert out["deploy/compose.yaml"] == compose


def test_compose_variable_without_env_file_is_refused_naming_its_source(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  api:\n    image: acme/dify-api:${V:-1.0}\n")
    with pytest.raises(EditRefused, match=r"compose.yaml:3: .*compose variable V .*default is 1.0.*") as error:
        plan_bump(tmp_path, [Target.from_inputs("acme/dify-api", "2.0")])
    assert error.value.exit_code == 2
    assert "--env-file .env" in str(error.value)


def test_several_images_make_one_plan(tmp_path: Path) -> None:
    compose = "".join(f"  {name}:\n    image: ghcr.io/acme/dify-{name}:1.0\n" for name in ("api", "web", "sandbox"))
    (tmp_path / "compose.yaml").write_text("services:\n" + compose)
    plugin = "pluginDaemon:\n  image: {repository: ghcr.io/acme/dify-plugin-daemon, tag: '0.1'}\n"
    (tmp_path / "values.yaml").write_text(plugin)
    targets = [Target.from_reference(f"ghcr.io/acme/dify-{name}:2.0") for name in ("api", "web", "sandbox")]
    targets.append(Target.from_reference("ghcr.io/acme/dify-plugin-daemon:0.2@sha256:" + "e" * 64))
    plan = plan_bump(tmp_path, targets)
    assert sorted(change.image for change in plan.changes) == sorted(t.image.name for t in targets)
    assert len(plan.edits) == 2
    apply_plan(plan)
    assert (tmp_path / "values.yaml").read_text().endswith("tag: '0.2@sha256:" + "e" * 64 + "'}\n")


def test_a_reference_without_tag_is_refused_for_a_multi_image_bump() -> None:
    with pytest.raises(Exception, match="give the tag with the repository"):
        Target.from_reference("ghcr.io/acme/dify-api")


@pytest.mark.parametrize(
    ("extra", "named", "allowed"),
    [
        (["--image", "acme/dify-api:1.0", "--image", "acme/dify-web:1.0", "--tag", "2.0"], "tag",
         "repository:tag"),
        (["--image", "acme/dify-api:1.0", "--image", "acme/dify-web:1.1", "--helm-path", "global.image.tag"],
         "helm-path", "same tag"),
        (["--image", "acme/dify-api:1.0", "--image", "docker.io/acme/dify-api:1.1"], "image", "given twice"),
        (["--image", "acme/dify-api"], "image", "give the tag"),
        (["--image", "acme/dify-api", "--digest", "sha256:" + "a" * 64], "digest", "with a tag"),
        (["--image", "acme/dify-api:1.0", "--env-file", "../x.env"], "env-file", "relative"),
    ],
)
def test_multi_image_cli_input_errors_exit_2_and_change_nothing(
    tmp_path: Path, extra: list[str], named: str, allowed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from dify_action.front.cli import main

    text = "services:\n  api:\n    image: acme/dify-api:${TAG}\n  web:\n    image: acme/dify-web:0.9\n"
    (tmp_path / "compose.yaml").write_text(text)
    assert main(["bump", "--gitops-dir", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err
    assert f"invalid --{named}" in err and allowed in err  # the CLI names its flag
    assert (tmp_path / "compose.yaml").read_text() == text


def _scalars(node: yaml.Node) -> list[tuple[str, int, int, str | None]]:
    if isinstance(node, yaml.ScalarNode):
        return [(str(node.value), node.start_mark.index, node.end_mark.index, node.style or None)]
    children = node.value if isinstance(node, yaml.SequenceNode) else [n for pair in node.value for n in pair]
    return [item for child in children for item in _scalars(child)]


LEAVES = st.one_of(st.text(max_size=12), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False))
TREES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4), max_leaves=20)


@SETTINGS
@given(data=TREES, flow=st.sampled_from([None, False, True]), newline=NEWLINES)
def test_libyaml_and_the_pure_composer_give_the_same_marks(data: object, flow: bool | None, newline: str) -> None:
    """The engine composes with libyaml and edits at its marks: they must be the pure composer's
    (styles too, but for plain scalars, which libyaml reports as '' and the pure composer as None)."""
    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True, line_break=newline)
    pure = [_scalars(doc) for doc in yaml.compose_all(text, Loader=yaml.SafeLoader)]
    fast = [_scalars(doc) for doc in yaml.compose_all(text, Loader=yaml.CSafeLoader)]
    assert fast == pure


@SETTINGS
@given(data=TREES, flow=st.sampled_from([None, False, True]),
       image=st.sampled_from(["nginx", "nginx:1.27", "docker.io/library/nginx@sha256:" + "a" * 64, "x/nginx"]),
       prefix=st.sampled_from(["", "&img ", "!!str ", "&a !!str "]),
       key=st.sampled_from(["image", "initImage", "name"]))
def test_the_prefilter_never_hides_an_image_value(
    data: object, flow: bool | None, image: str, prefix: str, key: str
) -> None:
    """The byte filter that spares composing must pass every file where the name is a YAML value."""
    from dify_action.bump.mentions import may_reference as _may_reference

    text = yaml.safe_dump({"other": data, key: image}, default_flow_style=flow)
    if prefix:
        text = text.replace(f"{key}: {image}", f"{key}: {prefix}{image}")
    assert _may_reference(text.encode(), {b"nginx"})
    assert not _may_reference(b"# installs nginx\ndescription: runs nginx today\n", {b"nginx"})


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ("global:\n  image:\n    registry: ghcr.io\napi:\n  image: {repository: acme/dify-api, tag: '1.0'}\n",
         "ghcr.io/acme/dify-api:1.0"),
        ("global:\n  imageRegistry: quay.io/\napi:\n  image:\n    repository: acme/dify-api\n    tag: '1.0'\n",
         "quay.io/acme/dify-api:1.0"),
        ("global: {image: {registry: ghcr.io}}\napi:\n  image:\n    registry: registry.example.com:5000\n"
         "    repository: acme/dify-api\n    tag: '1.0'\n", "registry.example.com:5000/acme/dify-api:1.0"),
        ("global: {image: {registry: ghcr.io}}\napi:\n  image: {repository: docker.io/acme/dify-api, tag: '1.0'}\n",
         "docker.io/acme/dify-api:1.0"),
    ],
)
def test_promote_reads_the_registry_the_chart_renders(tmp_path: Path, values: str, expected: str) -> None:
    """find_images (what promote copies) joins registry keys the way charts render them."""
    (tmp_path / "values.yaml").write_text(values)
    assert [str(found.ref) for found in find_images(tmp_path)] == [expected]
