"""The Actions protocol module: inputs as the runner sets them, outputs, summary, masks, annotations."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from testbed.outputs import parse_output_file

from dify_action.errors import InputError
from dify_action.front import gha


def actions(tmp_path: Path, **env: str) -> tuple[gha.Actions, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    environ = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        **env,
    }
    return gha.Actions(environ, out, err), out, err


def test_inputs_hyphen_form_wins_and_underscore_form_is_accepted(tmp_path: Path) -> None:
    a, _, _ = actions(tmp_path, **{"INPUT_GITOPS-REPO": "  https://h/a/b  ", "INPUT_GITOPS_REPO": "other",
                                   "INPUT_PUSH_MODE": "direct", "INPUT_BLANK": "   "})
    assert a.input("gitops-repo") == "https://h/a/b"
    assert a.input("push-mode") == "direct"
    assert a.input("blank", "dflt") == "dflt"
    assert a.input("missing") == ""
    assert gha.input_variables("registry password") == ("INPUT_REGISTRY_PASSWORD", "INPUT_REGISTRY_PASSWORD")


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("True", True), ("FALSE", False),
                                                 ("false", False), ("", None), ("  ", None)])
def test_booleans_have_three_states(tmp_path: Path, value: str, expected: bool | None) -> None:
    a, _, _ = actions(tmp_path, **{"INPUT_DRY-RUN": value})
    assert a.boolean("dry-run") is expected


@pytest.mark.parametrize("value", ["yes", "1", "on", "tru"])
def test_bad_boolean_names_input_value_and_allowed(tmp_path: Path, value: str) -> None:
    a, _, _ = actions(tmp_path, **{"INPUT_DRY-RUN": value})
    with pytest.raises(InputError) as caught:
        a.boolean("dry-run")
    assert caught.value.exit_code == 2
    assert str(caught.value) == f"invalid dry-run {value!r}: true or false (or empty: not given)"


def test_choice_integer_and_lists(tmp_path: Path) -> None:
    a, _, _ = actions(tmp_path, INPUT_COMMAND="deploy", **{"INPUT_PR-NUMBER": "12", "INPUT_TAGS": "a, b\n# c\n\nd\n"})
    with pytest.raises(InputError, match="invalid command 'deploy': one of build, bump"):
        a.choice("command", ("build", "bump"))
    assert a.integer("pr-number", minimum=1) == 12
    assert a.items("tags") == ("a", "b", "d")
    bad, _, _ = actions(tmp_path, **{"INPUT_PR-NUMBER": "12a"})
    with pytest.raises(InputError, match="pr-number '12a'"):
        bad.integer("pr-number", minimum=1)


def test_outputs_single_and_multiline_read_back(tmp_path: Path) -> None:
    a, _, _ = actions(tmp_path)
    a.set_output("digest", "sha256:" + "a" * 64)
    a.set_output("tags", "1.0\n1.0.0\nsha-abc")
    a.set_output("pr-number", 7)
    a.set_output("empty", None)
    text = (tmp_path / "output").read_text()
    assert text.startswith("digest=sha256:" + "a" * 64 + "\ntags<<ghadelimiter_")
    assert parse_output_file(text) == {"digest": "sha256:" + "a" * 64, "tags": "1.0\n1.0.0\nsha-abc",
                                           "pr-number": "7", "empty": ""}


def test_heredoc_delimiter_never_occurs_in_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = iter(["same", "same", "fresh"])
    monkeypatch.setattr(gha._secrets, "token_hex", lambda n: next(tokens))
    value = "a\nghadelimiter_same\nb"
    record = gha.format_output("x", value)
    assert record == "x<<ghadelimiter_fresh\na\nghadelimiter_same\nb\nghadelimiter_fresh\n"
    assert parse_output_file(record) == {"x": value}


def test_bad_output_name_is_a_programming_error(tmp_path: Path) -> None:
    a, _, _ = actions(tmp_path)
    with pytest.raises(ValueError, match="bad output name"):
        a.set_output("a=b", "x")


def test_masks_come_first_and_secrets_are_redacted_everywhere(tmp_path: Path) -> None:
    a, out, _ = actions(tmp_path)
    assert not a.printed
    a.mask("s3cr%t")
    a.mask("line-one\nline-two")
    a.mask("")
    assert not a.printed  # add-mask does not count as output
    a.info("logging in with s3cr%t")
    a.error("token line-two refused", title="auth s3cr%t")
    a.set_output("leak", "x s3cr%t y")
    a.summary("| s3cr%t |")
    assert out.getvalue().splitlines() == [
        "::add-mask::s3cr%25t",
        "::add-mask::line-one",
        "::add-mask::line-two",
        "logging in with ***",
        "::error title=auth ***::token *** refused",
    ]
    assert (tmp_path / "output").read_text() == "leak=x *** y\n"
    assert (tmp_path / "summary").read_text() == "| *** |\n"
    assert a.printed


def test_annotation_escaping() -> None:
    note = gha.Annotation("error", "50% done\r\nnext: a,b", file="dir,x/a:b.yaml", line=12, title="t: x, y")
    # CRLF is a line break; a lone CR (which would overwrite the line in a terminal) is shown as \r
    assert note.command() == "::error title=t%3A x%2C y,file=dir%2Cx/a%3Ab.yaml,line=12::50%25 done%0Anext: a,b"
    assert gha.Annotation("error", "a\rb").command() == "::error::a\\rb"
    assert gha.Annotation("warning", "w").command() == "::warning::w"
    assert gha.Annotation("notice", "n", file="f.yml").command() == "::notice file=f.yml::n"
    assert gha.escape_property("%:,\n") == "%25%3A%2C%0A"


def test_group_and_summary_truncation(tmp_path: Path) -> None:
    a, out, _ = actions(tmp_path)
    with a.group("build api"):
        a.info("step")
    assert out.getvalue() == "::group::build api\nstep\n::endgroup::\n"
    a.summary("x" * (gha.SUMMARY_LIMIT + 10))
    data = (tmp_path / "summary").read_bytes()
    assert len(data) <= gha.SUMMARY_LIMIT and data.endswith(b"GitHub keeps at most 1 MiB per step)_\n")


def test_outside_actions_everything_is_plain_stderr(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    a = gha.Actions({"GITHUB_OUTPUT": str(tmp_path / "o"), "GITHUB_STEP_SUMMARY": str(tmp_path / "s"),
                     "INPUT_COMMAND": "bump"}, out, err)
    assert not a.enabled and a.input("command") == "bump"
    a.mask("hunter2")
    a.error("bad hunter2", file="a.yaml", line=3)
    a.warning("careful")
    a.set_output("image", "r/x")
    a.summary("# report")
    with a.group("g"):
        a.info("i")
    assert out.getvalue() == ""
    assert err.getvalue() == "error: a.yaml:3: bad ***\nwarning: careful\noutput image=r/x\n== g\ni\n"
    assert not (tmp_path / "o").exists() and not (tmp_path / "s").exists()


def test_parse_output_file_rejects_an_unclosed_heredoc() -> None:
    with pytest.raises(ValueError, match="never closes"):
        parse_output_file("x<<EOF\nvalue\n")
