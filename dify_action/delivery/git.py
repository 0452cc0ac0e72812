"""The git layer of delivery: cheap clones, commits and leased pushes through the git CLI.

The token reaches git only through the environment of the one command that runs
(``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n`` setting ``http.<origin>.extraHeader``,
see https://git-scm.com/docs/git-config#Documentation/git-config.txt-GITCONFIGCOUNT), never in the
remote URL, ``.git/config``, argv or a message: every output we keep is scrubbed first.

git's environment is built from an allow-list (``git_environment``), not copied: every tracing
switch is forced off (``GIT_TRACE*``, ``GIT_TRACE2*`` which override the ``trace2.*`` config
targets, ``GIT_CURL_VERBOSE``), because ``GIT_TRACE2_CONFIG_PARAMS=http.*`` or
``GIT_TRACE2_ENV_VARS`` would write the extra header into a trace file (issue #9).
"""

from __future__ import annotations

import base64
import contextlib
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dify_action.errors import GitError, InputError

_GLOB_CHARS = frozenset("*?[")
# What git may see of the caller's environment: where it runs, its own config files, TLS trust
# and proxies. Everything else (tracing, GIT_DIR/GIT_WORK_TREE, askpass helpers...) stays out.
_ALLOWED_ENV = frozenset((
    "PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "TZ", "SYSTEMROOT", "XDG_CONFIG_HOME",
    "GIT_EXEC_PATH", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_COUNT",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH", "CURL_CA_BUNDLE",
    "http_proxy", "https_proxy", "no_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
))
_ALLOWED_PREFIXES = ("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_")  # command-scope config (safe.directory)
# Forced: no prompt, C messages (we read them), and every trace target off. An environment target
# overrides the trace2.*Target config (git-config(1) trace2), so "0" here also silences config files.
_FORCED_ENV = {
    "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "LANGUAGE": "C", "GIT_ASKPASS": "", "SSH_ASKPASS": "",
    "GCM_INTERACTIVE": "never", "GIT_TRACE_REDACT": "1", "GIT_CURL_VERBOSE": "0",
    **{name: "0" for name in (
        "GIT_TRACE", "GIT_TRACE_CURL", "GIT_TRACE_CURL_NO_DATA", "GIT_TRACE_PACKET", "GIT_TRACE_PACKFILE",
        "GIT_TRACE_PACK_ACCESS", "GIT_TRACE_PERFORMANCE", "GIT_TRACE_SETUP", "GIT_TRACE_SHALLOW",
        "GIT_TRACE_FSMONITOR", "GIT_TRACE_REFS", "GIT_TRACE2", "GIT_TRACE2_EVENT", "GIT_TRACE2_PERF")},
}
_REF_BAD = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|/\.|\.lock(/|$)")


def git_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """git's environment: the allow-listed part of ``environ`` plus the forced settings above."""
    kept = {key: value for key, value in environ.items()
            if key in _ALLOWED_ENV or key.startswith(_ALLOWED_PREFIXES)}
    return kept | _FORCED_ENV


def check_branch(name: str | None, input_name: str = "base") -> None:
    """A branch name git accepts (git-check-ref-format(1)) that cannot be taken for an option:
    InputError naming ``input_name`` before any remote is used."""
    if name is None:
        return
    if not name or name.startswith(("-", "/", ".")) or name.endswith(("/", ".")) or name == "@" or \
            _REF_BAD.search(name) or name.startswith("refs/"):
        raise InputError(input_name, name, "a branch name of the GitOps repository (no spaces, control "
                         "characters, ~^:?*[\\, '..', '@{', no leading '-' or '.', not refs/...)")


@dataclass(frozen=True)
class Identity:
    """Author or committer of the bump commit."""

    name: str = "dify-action"
    email: str = "dify-action@users.noreply.github.com"


@dataclass(frozen=True)
class CloneInfo:
    """How the GitOps repository was cloned: ``strategy`` and, for a fallback, the reason."""

    strategy: str
    reason: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"strategy": self.strategy, "reason": self.reason}


@dataclass(frozen=True)
class PushOutcome:
    """``status``: ok | up-to-date | rejected (base moved / lease broken); ``detail`` is scrubbed."""

    status: str
    detail: str = ""


def normalize_url(url: str) -> str:
    """http(s)/file URLs pass through; a plain local path becomes a file:// URL (so --depth works)."""
    if "://" in url:
        scheme = urlsplit(url).scheme
        if scheme not in ("http", "https", "file"):
            raise InputError("gitops-repo", url, "use an https://, http://, file:// URL or a local path")
        if urlsplit(url).password or (urlsplit(url).username and scheme != "file"):
            raise InputError(
                "gitops-repo", _strip_userinfo(url),
                "credentials do not belong in the URL; set GITOPS_TOKEN (or GITHUB_TOKEN) instead",
            )
        return url
    path = Path(url).expanduser()
    if not path.exists():
        raise InputError("gitops-repo", url, "no such local repository; give an https:// URL or a path")
    return path.resolve().as_uri()


def _strip_userinfo(url: str) -> str:
    """``url`` without ``user:password@`` (host and port kept)."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


class Git:
    """Runs git in one working tree with the token (if any) in the environment of each command."""

    def __init__(self, url: str, workdir: Path, token: str | None = None,
                 username: str = "x-access-token", *, base_env: Mapping[str, str]) -> None:
        self.url = normalize_url(url)
        self.workdir = workdir
        self._secrets: list[str] = []
        self._env = git_environment(base_env)  # the front end's environment, allow-listed
        if token:
            basic = base64.b64encode(f"{username}:{token}".encode()).decode()
            self._secrets = [token, basic]
            parts = urlsplit(self.url)
            count = int(self._env.get("GIT_CONFIG_COUNT", "0") or 0)
            # Scoped to the GitOps origin so no other host ever receives the header.
            self._env[f"GIT_CONFIG_KEY_{count}"] = f"http.{parts.scheme}://{parts.netloc}/.extraHeader"
            self._env[f"GIT_CONFIG_VALUE_{count}"] = f"Authorization: Basic {basic}"
            self._env["GIT_CONFIG_COUNT"] = str(count + 1)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return re.sub(r"(?i)(authorization:\s*\w+\s+)\S+", r"\1***", text)

    def run(self, *args: str, cwd: Path | None = None, check: bool = True, stdin: str | None = None,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``git args``; on failure raise GitError with scrubbed output."""
        proc = subprocess.run(
            ["git", *args], cwd=cwd or self.workdir, input=stdin, capture_output=True, text=True,
            env={**self._env, **(env or {})}, check=False,
        )
        proc = subprocess.CompletedProcess(proc.args, proc.returncode, self.scrub(proc.stdout),
                                           self.scrub(proc.stderr))
        if check and proc.returncode != 0:
            raise self.error(args[0], proc.stderr or proc.stdout)
        return proc

    def run_bytes(self, *args: str) -> bytes:
        """Run ``git args`` and return its raw stdout (blobs, NUL-separated paths)."""
        proc = subprocess.run(["git", *args], cwd=self.workdir, capture_output=True, env=self._env, check=False)
        if proc.returncode != 0:
            raise self.error(args[0], proc.stderr.decode(errors="replace"))
        return proc.stdout

    def error(self, what: str, output: str) -> GitError:
        text = self.scrub(output).strip()
        lowered = text.lower()
        hint = None
        rule = next((code for code in ("GH013", "GH006") if code in text), None)
        if rule:  # GitHub refused the push by a ruleset (GH013) or classic branch protection (GH006)
            kind = "a repository ruleset" if rule == "GH013" else "branch protection"
            signed = "signature" in lowered
            return GitError(
                f"GitHub refused the push to {_strip_userinfo(self.url)} ({rule}: {kind}"
                f"{', commits must have verified signatures' if signed else ''}): {text[-800:]}",
                hint=("set sign-commits: true and give a GitHub App installation token (or GITHUB_TOKEN): "
                      "GitHub then makes and signs the commit itself" if signed else
                      "the branch's rules refuse this push: use push-mode branch (a pull request) or "
                      "ask the repository's admins for an exception"))
        if any(s in lowered for s in ("authentication failed", "could not read username", "error: 401",
                                      "returned error: 403", "permission to", "denied")):
            hint = ("the token was refused: it needs 'contents: write' on the GitOps repository; the "
                    "workflow's GITHUB_TOKEN cannot write to another repository, so set GITOPS_TOKEN "
                    "to a fine-grained PAT or a GitHub App token")
        elif "not found" in lowered or "error: 404" in lowered or "does not appear to be a git" in lowered:
            hint = "check the GitOps repository URL, and that the token can read it"
        elif "remote branch" in lowered and "not found" in lowered:
            hint = "check --base: the branch does not exist in the GitOps repository"
        return GitError(f"git {what} failed for {_strip_userinfo(self.url)}: {text[-1500:]}", hint=hint)

    # --- clone -------------------------------------------------------------------------------

    def clone(self, base: str | None, sparse_paths: Sequence[str] = ()) -> tuple[str, CloneInfo]:
        """Clone cheaply into ``workdir``; returns (base branch, how). Falls back step by step.

        A ``base`` that is no branch of the remote (missing, or a tag) is an InputError."""
        check_branch(base)
        branch = [f"--branch={base}"] if base else []
        attempts = [
            ("shallow+blobless", ["--depth", "1", "--filter=blob:none"]),
            ("shallow", ["--depth", "1"]),
            ("full", []),
        ]
        reasons: list[str] = []
        strategy = ""
        for name, flags in attempts:
            if self.workdir.exists() and any(self.workdir.iterdir()):
                raise GitError(f"clone target {self.workdir} is not empty")
            proc = self.run("clone", "--quiet", "--no-checkout", "--single-branch", *flags, *branch,
                            "--", self.url, str(self.workdir), cwd=self.workdir.parent, check=False)
            if proc.returncode == 0:
                strategy = name
                if "--filter=blob:none" in flags and "filtering not recognized" in proc.stderr:
                    strategy = "shallow"
                    reasons.append("server does not allow --filter (uploadpack.allowFilter): all blobs "
                                   "of the tip were fetched")
                break
            error = self.error("clone", proc.stderr)
            if base and "remote branch" in proc.stderr.lower() and "not found" in proc.stderr.lower():
                raise InputError("base", base, f"a branch of {_strip_userinfo(self.url)}: it has no such branch")
            if error.hint:
                raise error
            reasons.append(f"{name} clone failed: {proc.stderr.strip().splitlines()[-1:] or ['?']}")
            _empty_dir(self.workdir)
        else:
            raise GitError(f"cannot clone {_strip_userinfo(self.url)}: {'; '.join(reasons)}")
        self.workdir = self.workdir.resolve()
        head = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        if head.returncode != 0 and base:  # clone --branch=<tag> checks out a detached tag
            raise InputError("base", base, f"a branch of {_strip_userinfo(self.url)}: this is a tag")
        if head.returncode != 0:
            raise self.error("symbolic-ref", head.stderr)
        current = head.stdout.strip()
        strategy, reason = self._checkout(current, sparse_paths, strategy)
        if reason:
            reasons.append(reason)
        return current, CloneInfo(strategy, "; ".join(reasons) or None)

    def _checkout(self, branch: str, paths: Sequence[str], strategy: str) -> tuple[str, str | None]:
        reason: str | None = None
        dirs: set[str] = set()
        for raw in paths:
            path = raw.strip("/")
            if not path or path == "." or _GLOB_CHARS & set(path):
                reason = f"sparse checkout not used: path {raw!r} is the root or a pattern"
                dirs.clear()
                break
            kind = self.run("cat-file", "-t", f"HEAD:{path}", check=False).stdout.strip()
            if kind == "tree":
                dirs.add(path)
            elif kind == "blob":
                parent = path.rpartition("/")[0]
                if not parent:
                    dirs.clear()
                    reason = f"sparse checkout not used: {raw!r} sits at the repository root"
                    break
                dirs.add(parent)
            else:  # let the bump engine report the missing path with its own error
                dirs.clear()
                reason = f"sparse checkout not used: {raw!r} not found at the tip"
                break
        if dirs:
            proc = self.run("sparse-checkout", "set", "--cone", *sorted(dirs), check=False)
            if proc.returncode == 0:
                strategy += "+sparse"
            else:
                reason = f"sparse checkout failed, full checkout used: {proc.stderr.strip()[-200:]}"
        self.run("checkout", "--quiet", branch)
        return strategy, reason

    # --- commits and pushes ----------------------------------------------------------------------

    def commit(self, message: str, files: Sequence[str], author: Identity, committer: Identity) -> str:
        self.run("add", "--", *files)
        env = {"GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email,
               "GIT_COMMITTER_NAME": committer.name, "GIT_COMMITTER_EMAIL": committer.email}
        self.run("-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify", "-F", "-",
                 stdin=message, env=env)
        return self.rev_parse("HEAD")

    def rev_parse(self, rev: str) -> str:
        return self.run("rev-parse", "--verify", "--quiet", rev).stdout.strip()

    def remote_sha(self, branch: str) -> str | None:
        """The sha of ``refs/heads/branch`` on the remote now, or None when it does not exist."""
        out = self.run("ls-remote", "origin", f"refs/heads/{branch}").stdout.split()
        return out[0] if out else None

    def fetch(self, branch: str, into: str) -> str:
        """Fetch the tip of remote ``branch`` (depth 1) into local ref ``into``; return its sha."""
        self.run("fetch", "--quiet", "--depth", "1", "origin", f"+refs/heads/{branch}:{into}")
        return self.rev_parse(into)

    def reset_to(self, rev: str) -> None:
        self.run("reset", "--quiet", "--hard", rev)

    def push(self, local: str, branch: str, lease: str | None = None, *, leased: bool = False) -> PushOutcome:
        """Push ``local`` to ``refs/heads/branch``; with ``leased`` only over the remote sha ``lease``
        (None: the branch must not exist). Rejections are a result, other failures GitError."""
        args = ["push", "--porcelain", "origin", f"{local}:refs/heads/{branch}"]
        if leased:
            args.insert(1, f"--force-with-lease=refs/heads/{branch}:{lease or ''}")
        return self._push(args)

    def delete_branch(self, branch: str, lease: str) -> PushOutcome:
        return self._push(["push", "--porcelain", f"--force-with-lease=refs/heads/{branch}:{lease}",
                           "origin", f":refs/heads/{branch}"])

    def _push(self, args: list[str]) -> PushOutcome:
        proc = self.run(*args, check=False)
        status_lines = [line for line in proc.stdout.splitlines()
                        if line[:1] in ("!", "=", " ", "*", "+", "-") and "\t" in line]
        rejected = [line for line in status_lines if line.startswith("!")]
        if rejected:
            detail = rejected[0].split("\t")[-1]
            races = ("fetch first", "non-fast-forward", "stale info", "cannot lock ref",
                     "failed to update ref", "incorrect old value")
            if any(word in detail for word in races):
                return PushOutcome("rejected", detail)
            raise self.error("push", f"{detail}\n{proc.stderr}")
        if proc.returncode != 0:
            raise self.error("push", proc.stderr or proc.stdout)
        if status_lines and all(line.startswith("=") for line in status_lines):
            return PushOutcome("up-to-date")
        return PushOutcome("ok")


def _empty_dir(path: Path) -> None:
    if path.exists():
        for child in path.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()


@contextlib.contextmanager
def workspace(purpose: str, workdir: Path | None = None) -> Iterator[Path]:
    """An empty ``gitops`` directory to clone into, removed afterwards (signals included), or the
    caller's own ``workdir`` (kept)."""
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        yield workdir
        return
    with tempfile.TemporaryDirectory(prefix=f"dify-action-{purpose}-") as temp:
        root = Path(temp) / "gitops"
        root.mkdir()
        yield root
