"""The error hierarchy: every failure the core raises, with fixed exit codes.

Front ends (the CLI and front/action.py) map these to exit codes and messages; the core never
exits or prints. Messages say what failed, the likely cause and the fix.

Messages embed file names, values and tool output from repositories, registries and configs, so
``message`` and ``hint`` are neutralised here, once, with ``text.safe_text``: no line of an error
can act as a workflow command or a terminal control sequence, wherever a front end prints it.
"""

from __future__ import annotations

from dify_action.text import safe_text

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class DifyActionError(Exception):
    """A failure of an operation: exit code 1.

    ``hint`` is the fix a user should try; ``file``/``line`` point at the offending place
    when there is one (the Actions front end turns them into an annotation).
    """

    exit_code = EXIT_FAILURE

    def __init__(
        self, message: str, *, hint: str | None = None, file: str | None = None, line: int | None = None
    ) -> None:
        message = safe_text(message)
        super().__init__(message)
        self.message = message
        self.hint = safe_text(hint) if hint is not None else None
        self.file = file
        self.line = line

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class InputError(DifyActionError):
    """Bad input: names the input, the value given and what is allowed. Exit code 2."""

    exit_code = EXIT_BAD_INPUT

    def __init__(
        self, name: str, value: object, allowed: str, *, file: str | None = None, line: int | None = None
    ) -> None:
        super().__init__(f"invalid {name} {value!r}: {allowed}", file=file, line=line)
        self.name = name
        self.value = value
        self.allowed = allowed


class ConfigError(InputError):
    """A bad configuration file: names the file, the key and what is allowed. Exit code 2."""

    def __init__(self, file: str, key: str, value: object, allowed: str, *, line: int | None = None,
                 column: int | None = None) -> None:
        # file:line[:column], as editors and annotations read it
        where = file + (f":{line}" if line else "") + (f":{column}" if line and column else "")
        super().__init__(f"{key} in {where}", value, allowed, file=file, line=line)
        self.key = key
        self.column = column


class ManifestError(DifyActionError):
    """A GitOps file cannot be edited safely (alias, block scalar, unreadable file...)."""


class EditRefused(ManifestError):
    """The bump refuses an edit it cannot make safely or that would mean something else (a value
    shared through an anchor, a block scalar, a compose variable, a tag other images inherit).
    Exit code 2: nothing is written. ``warnings``: the files the bump skipped, for the front end
    to print beside the error."""

    exit_code = EXIT_BAD_INPUT
    warnings: tuple[str, ...] = ()


class NotDeployed(EditRefused):
    """No file under the bump's paths deploys the image; the message names the files that mention
    it but were skipped, and near-miss repositories the tree does contain."""


class GitError(DifyActionError):
    """A git operation failed."""


class ForgeError(DifyActionError):
    """The forge (GitHub) refused or failed a request."""


class RegistryError(DifyActionError):
    """A container registry request failed."""


class DockerError(DifyActionError):
    """The Docker engine failed a build, push or run."""


class GateFailed(DifyActionError):
    """A quality gate (smoke test, scan policy, size budget) did not pass. ``planned``: what a dry
    run would have done, when it was refused (the front end shows it beside the refusal)."""

    planned: object = None


class BadManifest(ManifestError):
    """A GitOps file that is bad input: named with --path but not usable YAML (broken, an alias
    bomb, nested too deep), or ambiguous (a key twice in the mapping that holds a target). Exit 2."""

    exit_code = EXIT_BAD_INPUT


class TreeWriteError(DifyActionError):
    """Writing the bumped files failed (no space left, read-only, permissions) or an interrupted
    write found on start cannot be finished safely."""
