"""Commits GitHub signs: the commit ``git commit`` made locally, re-made through the Git Data API.

GitHub signs (and marks verified) a commit it authors itself, which it does for commits created
through the REST API with a GitHub App installation token or GITHUB_TOKEN and no custom author,
committer or signature (https://docs.github.com/rest/git/commits#create-a-commit). So the change is
still planned and committed by git in the clone (byte-exact edits, git's own tree), then shipped as
the difference between the local commit and its parent: blobs (always base64, so CRLF, binary and
large files arrive byte for byte), one tree on the base tree (modes, symlinks, deletions), one
commit, one ref update. The tree GitHub answers with must hash to the local commit's tree: anything
else is an error, never a silent difference.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from github import Auth, Github, GithubException

from dify_action.delivery.destination import Destination
from dify_action.delivery.git import Git, Identity, PushOutcome
from dify_action.delivery.github_address import check_api_url
from dify_action.delivery.github_calls import Caller, describe, error_message
from dify_action.errors import ForgeError, GitError

_WRITE = "contents: write"
# What GitHub answers when a ref update lost a race: the base moved (not a fast forward any more),
# or two updates of one ref met ("Reference update failed", 409/422).
_RACES = ("not a fast forward", "reference update failed", "reference already exists")


@dataclass(frozen=True)
class Verification:
    """The ``verification`` object GitHub returns for a commit, and why it may be unsigned."""

    verified: bool
    reason: str
    note: str | None = None


def token_kind(token: str | None) -> str:
    """What kind of token this is, from GitHub's documented prefixes (no call needed)."""
    prefixes = (("ghs_", "app"), ("github_pat_", "fine-grained PAT"), ("ghp_", "classic PAT"),
                ("gho_", "OAuth token"), ("ghu_", "user-to-server token"))
    return next((kind for prefix, kind in prefixes if (token or "").startswith(prefix)), "unknown")


def co_author(message: str, author: Identity) -> str:
    """``message`` with a ``Co-authored-by:`` trailer for a configured author (GitHub signs only
    commits it authors itself, so the person can only be credited this way)."""
    if author == Identity():
        return message
    trailer = f"Co-authored-by: {author.name} <{author.email}>"
    return message if trailer in message else message.rstrip("\n") + f"\n\n{trailer}\n"


class GitData:
    """Blobs, trees, commits and refs of one repository (``owner/name``) under ``caller``'s policy."""

    def __init__(self, api_url: str, token: str | None, repository: str, caller: Caller, author: Identity,
                 timeout: int = 60) -> None:
        check_api_url(api_url)
        self.caller, self.author, self.token = caller, author, token
        self._base = f"/repos/{repository}"
        gh = Github(auth=Auth.Token(token) if token else None, base_url=api_url.rstrip("/"), timeout=timeout,
                    retry=None, seconds_between_requests=None, seconds_between_writes=None, lazy=True)
        self._requester: Any = gh.requester

    def _call(self, what: str, verb: str, path: str, body: dict[str, Any] | None = None, *,
              fresh: bool = True, races: bool = False) -> Any:
        def once() -> Any:
            return self._requester.requestJsonAndCheck(verb, f"{self._base}{path}", input=body)[1]
        try:
            return self.caller.call(what, once, fresh_ref=fresh)
        except GithubException as error:
            if races and any(word in error_message(error).lower() for word in _RACES):
                raise _Race(error_message(error)) from None
            raise self._explain(error, what) from None

    def _explain(self, error: GithubException, what: str) -> ForgeError:
        found = describe(error, what, _WRITE)
        kind = token_kind(self.token)
        if error.status == 404 and kind == "app":
            found = ForgeError(str(found), hint="the GitHub App is not installed on the GitOps repository, or "
                               "its installation token does not cover it: install the App there")
        elif "rule violations" in error_message(error).lower() or "GH013" in error_message(error):
            found = ForgeError(str(found), hint=f"the branch requires verified commits and GitHub did not sign this "
                               f"one (the token is {'an' if kind[0] in 'aeiouO' else 'a'} {kind}): GitHub signs API "
                               "commits only for a GitHub App installation token or GITHUB_TOKEN")
        elif error.status == 403 and "not accessible" in error_message(error).lower():
            found = ForgeError(str(found), hint="the token lacks 'contents: write' on the GitOps repository "
                               "(an App: grant Contents read and write; GITHUB_TOKEN: permissions: contents: write)")
        return found

    # --- the commit ----------------------------------------------------------------------------------

    def remake(self, git: Git, local: str, parent: str) -> str:
        """The commit ``local`` (one commit on ``parent``, made by git) re-made through the API on
        ``parent``, which must be on GitHub; returns the new commit's sha."""
        tokens = git.run_bytes("diff-tree", "-r", "-z", "--no-renames", "--raw", parent, local).split(b"\0")[:-1]
        entries = [self._entry(git, tokens[i].decode(), tokens[i + 1]) for i in range(0, len(tokens), 2)]
        want = git.rev_parse(f"{local}^{{tree}}")
        base_tree = git.rev_parse(f"{parent}^{{tree}}")
        tree = self._call("create tree", "POST", "/git/trees", {"base_tree": base_tree, "tree": entries})
        if tree["sha"] != want:
            raise GitError(f"GitHub made tree {tree['sha']} where git made {want}: the commit was not made",
                           hint="report this: a file mode or content did not survive the API")
        raw = git.run("cat-file", "commit", local).stdout
        message = co_author(raw.split("\n\n", 1)[1] if "\n\n" in raw else "", self.author)
        commit = self._call("create commit", "POST", "/git/commits",
                            {"message": message, "tree": want, "parents": [parent]})
        return str(commit["sha"])

    def _entry(self, git: Git, meta: str, raw_path: bytes) -> dict[str, Any]:
        old_mode, mode, old_sha, sha, status = meta.lstrip(":").split()
        try:
            path = raw_path.decode()
        except UnicodeDecodeError:  # JSON carries text only
            raise GitError(f"cannot commit {raw_path!r} through the API: the path is not UTF-8",
                           hint="rename the file, or turn sign-commits off") from None
        if status == "D":
            return {"path": path, "mode": old_mode, "type": "blob", "sha": None}
        if mode == "160000":  # a submodule: the commit it points to, no blob
            return {"path": path, "mode": mode, "type": "commit", "sha": sha}
        if old_sha == sha:  # a mode change only: GitHub has the blob already
            return {"path": path, "mode": mode, "type": "blob", "sha": sha}
        data = git.run_bytes("cat-file", "blob", sha)
        blob = self._call("create blob", "POST", "/git/blobs",
                          {"content": base64.b64encode(data).decode(), "encoding": "base64"})
        if blob["sha"] != sha:
            raise GitError(f"GitHub stored {path} as blob {blob['sha']}, git has {sha}")
        return {"path": path, "mode": mode, "type": "blob", "sha": sha}

    # --- refs ------------------------------------------------------------------------------------------

    def advance(self, branch: str, sha: str, current: str | None, *, force: bool) -> PushOutcome:
        """Point ``branch`` at ``sha``: created when ``current`` is None, else updated (a fast
        forward unless ``force``). A lost race is ``rejected``, like a refused push."""
        try:
            if current is None:
                self._call("create branch", "POST", "/git/refs", {"ref": f"refs/heads/{branch}", "sha": sha},
                           races=True)
            else:
                self._call(f"update {branch}", "PATCH", f"/git/refs/heads/{branch}", {"sha": sha, "force": force},
                           races=True)
        except _Race as race:
            return PushOutcome("rejected", str(race))
        return PushOutcome("ok")

    def verification(self, sha: str) -> Verification:
        """Read back whether GitHub verified ``sha``, and say why not."""
        found = self._call("read commit", "GET", f"/git/commits/{sha}").get("verification") or {}
        verified, reason = bool(found.get("verified")), str(found.get("reason") or "unsigned")
        note = None
        if not verified:
            kind = token_kind(self.token)
            why = (f"the token is a {kind}: GitHub signs API commits only for a GitHub App installation "
                   "token or GITHUB_TOKEN" if kind.endswith("PAT") or kind in ("OAuth token",) else
                   f"GitHub's verification reason: {reason}")
            note = f"commit {sha[:12]} is not verified ({why})"
        return Verification(verified, reason, note)


class _Race(Exception):
    pass



class Signed:
    """sign-commits for one delivery: ships HEAD (one commit on HEAD^) through the API instead of a
    push, and remembers GitHub's verification of the commit the branch ends on."""

    def __init__(self, api: GitData, git: Git) -> None:
        self.api, self.git = api, git
        self.verification: Verification | None = None

    def push(self, branch: str, current: str | None, *, force: bool) -> tuple[PushOutcome, str]:
        """Re-make HEAD on its parent and move ``branch`` (at ``current``, None: new) to it."""
        sha = self.api.remake(self.git, "HEAD", self.git.rev_parse("HEAD^"))
        outcome = self.api.advance(branch, sha, current, force=force)
        if outcome.status != "rejected":
            self.verification = self.api.verification(sha)
        return outcome, sha

    def kept(self, sha: str) -> None:
        """The branch already held this change (a rerun): report that commit's verification."""
        self.verification = self.api.verification(sha)

    def fields(self) -> dict[str, object]:
        """``commits_verified`` and the note for a DeliveryResult."""
        found = self.verification
        return {"commits_verified": found.verified if found else None}

    def notes(self) -> tuple[str, ...]:
        return (self.verification.note,) if self.verification and self.verification.note else ()


def signer(destination: Destination, git: Git, caller: Caller) -> Signed | None:
    """A ``Signed`` when the destination asks for sign-commits, else None."""
    if not destination.sign_commits:
        return None
    api = GitData(destination.github_api_url, destination.token, destination.github_repository(), caller,
                  destination.author)
    return Signed(api, git)
