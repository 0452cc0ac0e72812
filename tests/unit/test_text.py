"""Printed text from outside can never act as a workflow command or a terminal control (issue #9).

The runner's rules are restated here on their own (not through the module under test): a v2
command is a line whose whitespace-trimmed start is ``::``; a legacy command is ``##[`` anywhere.
"""

from __future__ import annotations

import contextlib
import io
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from dify_action.errors import DifyActionError, GitError, InputError
from dify_action.front import gha
from dify_action.text import SafeStream, display, protected_stdio, safe_text

BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
HOSTILE = ["x\n::set-output name=commit::PWNED", "\n::add-mask::", "  ::stop-commands::t", "\r::error::x",
           "a\u2028::warning::b", "##[set-output name=x;]y", "\x1b[31mred\x1b[0m", "\x9b2J", "\u202eevil",
           "\x85::group::x", "\u00a0::debug::y", "%0A::error::z", "#", "#[", ":", "\\", "\t::notice::n"]
# Text biased towards what breaks protocols: controls, separators, colons, hashes, brackets.
hostile_text = st.lists(st.one_of(
    st.sampled_from(["::", ":", "#", "##[", "[", "]", "\n", "\r", "\t", " ", "\x1b", "\x00", "\x7f", "\x85",
                     "\x9b", "\u2028", "\u2029", "\u202e", "\u2066", "\u00a0", "\u3000", "%", "\\", "a"]),
    st.characters(), st.sampled_from(HOSTILE)), max_size=20).map("".join)


def runner_would_act(line: str) -> bool:
    return line.lstrip().startswith("::") or "##[" in line


def raw_control(line: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in BIDI for c in line)


def plain_lines(output: str) -> list[str]:
    assert output.endswith("\n") or not output
    return output.split("\n")[:-1] if output else []


@given(hostile_text)
def test_safe_text_lines_are_plain(text: str) -> None:
    out = safe_text(text)
    for line in out.split("\n"):
        assert not runner_would_act(line), (text, line)
        assert not raw_control(line), (text, line)
    assert out.count("\n") == text.replace("\r\n", "\n").count("\n")  # only real line breaks survive
    assert safe_text(out) == out


@given(hostile_text)
def test_display_is_one_plain_line(value: str) -> None:
    shown = display(value)
    assert "\n" not in shown and not runner_would_act(shown) and not raw_control(shown)
    assert display(shown) == shown


def test_examples_are_shown_not_obeyed() -> None:
    assert safe_text("x\n::set-output name=commit::PWNED") == "x\n\\::set-output name=commit::PWNED"
    assert display("x\n::set-output name=commit::PWNED") == "x\\n::set-output name=commit::PWNED"
    assert display("\x1b[31mred") == "\\u001b[31mred"
    assert safe_text("  ::add-mask::s") == "  \\::add-mask::s"
    assert safe_text("see ##[error]x") == "see #\\u0023[error]x"
    assert safe_text("a\r\nb") == "a\nb" and display("\u202e") == "\\u202e"
    assert safe_text("plain: text, 50% (ok) ::1") == "plain: text, 50% (ok) ::1"


@given(st.lists(hostile_text, max_size=8))
def test_safe_stream_any_chunking(chunks: list[str]) -> None:
    raw = io.StringIO()
    stream = SafeStream(raw)
    for chunk in chunks:
        stream.write(chunk)
        stream.flush()
    stream.close()
    for line in plain_lines(raw.getvalue()):
        assert not runner_would_act(line) and not raw_control(line), (chunks, line)


def test_protected_stdio_guards_print() -> None:
    raw = io.StringIO()
    import sys
    saved = sys.stdout
    sys.stdout = raw
    try:
        with protected_stdio() as (out, _err):
            print("warning: skipped x\n::set-output name=commit::PWNED: not YAML")
            assert out is raw
    finally:
        sys.stdout = saved
    assert raw.getvalue() == "warning: skipped x\n\\::set-output name=commit::PWNED: not YAML\n"


@given(message=hostile_text, file=hostile_text, title=hostile_text, info=hostile_text)
def test_actions_prints_only_its_own_commands(message: str, file: str, title: str, info: str) -> None:
    for enabled in (True, False):
        out, err = io.StringIO(), io.StringIO()
        a = gha.Actions({"GITHUB_ACTIONS": "true"} if enabled else {}, out, err)
        with a.group(title):
            a.info(info)
            a.warning(message, file=file or None, line=3, title=title or None)
            a.error(message)
            a.set_output("commit", info)
        lines = plain_lines(out.getvalue()) + plain_lines(err.getvalue())
        commands = [line for line in lines if runner_would_act(line)]
        assert all(not raw_control(line) for line in lines)
        names = [line.lstrip()[2:].split("::")[0].split(" ")[0] for line in commands]
        expected = ["group", "warning", "error", "endgroup"] if enabled else []
        assert names == expected, (lines, names)
        assert all(line.startswith("::") for line in commands)  # ours: never after a stray prefix


@given(hostile_text, hostile_text)
def test_error_messages_are_neutralised(name: str, hint: str) -> None:
    for error in (GitError(f"git push failed for {name}", hint=hint), InputError("base", name, "a branch"),
                  DifyActionError(f"cannot read {name}: {hint}")):
        for line in str(error).split("\n"):
            assert not runner_would_act(line) and not raw_control(line), (name, line)


@given(st.lists(hostile_text, max_size=8), st.integers(min_value=0, max_value=8))
def test_safe_stream_reader_gone_at_any_point(chunks: list[str], gone_after: int) -> None:
    """A pipe whose reader closes after any chunk: no write, flush or close raises, what the reader
    got is whole neutralised lines, and the stream drops the rest (the run goes on)."""
    import os

    read, write = os.pipe()
    raw = os.fdopen(write, "w", encoding="utf-8")
    stream = SafeStream(raw)
    got = b""
    try:
        for index, chunk in enumerate(chunks):
            if index == gone_after:
                os.set_blocking(read, False)
                with contextlib.suppress(BlockingIOError):
                    got += os.read(read, 1 << 20)
                os.close(read)
                read = -1
            stream.write(chunk)
            stream.flush()
        stream.write("end\n")
        stream.close()
        assert stream.broken == (read == -1)  # a line after the reader left: dropped, not raised
    finally:
        if read != -1:
            os.set_blocking(read, False)
            with contextlib.suppress(BlockingIOError):
                got += os.read(read, 1 << 20)
            os.close(read)
        raw.close()
    text = got.decode("utf-8", "surrogateescape")
    for line in text.split("\n")[:-1]:
        assert not runner_would_act(line) and not raw_control(line), (chunks, line)
