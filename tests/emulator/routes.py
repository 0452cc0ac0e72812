"""Route handlers of the emulator: repos, pulls, issue labels, review requests, git refs, contents.

Each handler takes (emulator, path params, query, json payload) and returns (status, body) or
raises ApiError with GitHub's real error body (shapes from @octokit/fixtures and GitHub's docs).
"""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING, Any

from . import objects as o
from .gitdata import check_protected, create_blob, create_commit, create_tree, get_commit

if TYPE_CHECKING:
    from .server import GitHubEmulator

from .server import ApiError

Q = dict[str, list[str]]


def _repo(em: GitHubEmulator, p: dict[str, str]) -> dict[str, Any]:
    if (p["owner"], p["repo"]) != (em.repo.owner, em.repo.name):
        raise ApiError(404, o.error("Not Found", "repos/repos#get-a-repository", 404))
    owner = o.user(em.urls, em.repo.owner, 9919, "Organization")
    return o.repository(em.urls, owner, em.repo.name, em.repo.default_branch)


def _pull_json(em: GitHubEmulator, pull: o.Pull, full: bool) -> dict[str, Any]:
    repo = _repo(em, {"owner": em.repo.owner, "repo": em.repo.name})
    head = em.repo.sha(pull.head) or "0" * 40
    base = em.repo.sha(pull.base) or "0" * 40
    stats = (
        em.repo.diff_stats(base, head)
        if full and head != "0" * 40
        else {"commits": 0, "additions": 0, "deletions": 0, "changed_files": 0}
    )
    return pull.json(em.urls, repo, (head, base), stats, full)


def _pull(em: GitHubEmulator, p: dict[str, str]) -> o.Pull:
    _repo(em, p)
    em._sync_closed()
    pull = em.pulls.get(int(p["pull_number"] if "pull_number" in p else p["issue_number"]))
    if pull is None:
        raise ApiError(404, o.error("Not Found", "pulls/pulls#get-a-pull-request", 404))
    return pull


def get_repo(em: GitHubEmulator, p: dict[str, str], q: Q, body: Any) -> tuple[int, Any]:
    return 200, _repo(em, p)


def list_pulls(em: GitHubEmulator, p: dict[str, str], q: Q, body: Any) -> tuple[int, Any]:
    _repo(em, p)
    em._sync_closed()
    state = q.get("state", ["open"])[0]
    head = q.get("head", [None])[0]
    base = q.get("base", [None])[0]
    out = []
    for pull in sorted(em.pulls.values(), key=lambda x: -x.number):
        if state != "all" and pull.state != state:
            continue
        if head is not None:
            owner, _, branch = head.partition(":")
            if owner != em.repo.owner or (branch and branch != pull.head):
                continue
        if base is not None and pull.base != base:
            continue
        out.append(_pull_json(em, pull, full=False))
    return 200, out


def _validation(doc: str, errors: list[dict[str, Any]]) -> ApiError:
    return ApiError(422, o.error("Validation Failed", doc, 422, errors))


def create_pull(em: GitHubEmulator, p: dict[str, str], q: Q, body: Any) -> tuple[int, Any]:
    _repo(em, p)
    em._sync_closed()
    doc = "pulls/pulls#create-a-pull-request"
    head, base, title = body.get("head", ""), body.get("base", ""), body.get("title")
    head = head.split(":", 1)[1] if ":" in head else head
    if not title:
        raise _validation(doc, [{"resource": "PullRequest", "code": "missing_field", "field": "title"}])
    if em.repo.sha(base) is None:
        raise _validation(doc, [{"resource": "PullRequest", "field": "base", "code": "invalid"}])
    head_sha = em.repo.sha(head)
    if head_sha is None:
        raise _validation(doc, [{"resource": "PullRequest", "field": "head", "code": "invalid"}])
    for pull in em.pulls.values():
        if pull.state == "open" and pull.head == head and pull.base == base:
            message = f"A pull request already exists for {em.repo.owner}:{head}."
            raise _validation(doc, [{"resource": "PullRequest", "code": "custom", "message": message}])
    if em.repo.is_ancestor(head_sha, em.repo.sha(base) or ""):
        message = f"No commits between {base} and {head}"
        raise _validation(doc, [{"resource": "PullRequest", "code": "custom", "message": message}])
    number = em._next
    em._next += 1
    pull = o.Pull(number, 100000 + number, title, body.get("body"), head, base, bool(body.get("draft")), em.author)
    em.pulls[number] = pull
    return 201, _pull_json(em, pull, full=True)


def get_pull(em: GitHubEmulator, p: dict[str, str], q: Q, body: Any) -> tuple[int, Any]:
    return 200, _pull_json(em, _pull(em, p), full=True)


def update_pull(em: GitHubEmulator, p: dict[str, str], q: Q, body: Any) -> tuple[int, Any]:
    pull = _pull(em, p)
    if "title" in body:
        pull.title = body["title"]
    if "body" in body:
        pull.body = body["body"]
    if "base" in body:
        pull.base = body["base"]
    if body.get("state") in ("open", "closed") and body["state"] != pull.state:
        pull.state = body["state"]
        pull.closed_at = o.now_iso() if pull.state == "closed" else None
    pull.updated_at = o.now_iso()
    return 200, _pull_json(em, pull, full=True)


def add_labels(em: GitHubEmulator, p: dict[str, str], q: Q, body: Any) -> tuple[int, Any]:
    pull = _pull(em, p)
    names = body.get("labels", body) if isinstance(body, dict) else body
    for name in names:
        label = em.labels.get(name)
        if label is None:
            label = em.labels[name] = o.Label(len(em.labels) + 500, name)
        if all(existing.name != name for existing in pull.labels):
            pull.labels.append(label)
    return 200, [label.json(em.urls, em.full_name) for label in pull.labels]


def request_reviewers(em: GitHubEmulator, p: dict[str, str], q: Q, body: Any) -> tuple[int, Any]:
    pull = _pull(em, p)
    for login in body.get("reviewers", []):
        if login == pull.author:
            raise ApiError(
                422,
                o.error(
                    "Review cannot be requested from pull request author.",
                    "pulls/review-requests#request-reviewers-for-a-pull-request",
                    422,
                ),
            )
        if login not in pull.reviewers:
            pull.reviewers.append(login)
    for slug in body.get("team_reviewers", []):
        if slug not in pull.teams:
            pull.teams.append(slug)
    return 201, _pull_json(em, pull, full=False)


def get_ref(em: GitHubEmulator, p: dict[str, str], q: Q, body: Any) -> tuple[int, Any]:
    _repo(em, p)
    sha = em.repo.ref_sha(f"refs/{p['ref']}")
    if sha is None:
        raise ApiError(404, o.error("Not Found", "git/refs#get-a-reference", 404))
    return 200, o.git_ref(em.urls, em.full_name, f"refs/{p['ref']}", sha)


def create_ref(em: GitHubEmulator, p: dict[str, str], q: Q, body: Any) -> tuple[int, Any]:
    _repo(em, p)
    ref, sha = body.get("ref", ""), body.get("sha", "")
    if not ref.startswith("refs/") or ref.count("/") < 2:
        raise ApiError(422, o.error(f"{ref} is not a valid ref name.", "git/refs#create-a-reference", 422))
    if em.repo.ref_sha(ref) is not None:
        raise ApiError(422, o.error("Reference already exists", "git/refs#create-a-reference", 422))
    if em.repo.ref_sha(sha) is None:
        raise ApiError(422, o.error("Object does not exist", "git/refs#create-a-reference", 422))
    from .bare import git

    check_protected(em, ref, None, sha)
    git(em.repo.path, "update-ref", ref, sha, "0" * 40)
    return 201, o.git_ref(em.urls, em.full_name, ref, sha)


def update_ref(em: GitHubEmulator, p: dict[str, str], q: Q, body: Any) -> tuple[int, Any]:
    _repo(em, p)
    ref, sha = f"refs/{p['ref']}", body.get("sha", "")
    old = em.repo.ref_sha(ref)
    if old is None:
        raise ApiError(422, o.error("Reference does not exist", "git/refs#update-a-reference", 422))
    if em.repo.ref_sha(sha) is None:
        raise ApiError(422, o.error("Object does not exist", "git/refs#update-a-reference", 422))
    if not body.get("force") and not em.repo.is_ancestor(old, sha):
        raise ApiError(422, o.error("Update is not a fast forward", "git/refs#update-a-reference", 422))
    from .bare import git

    check_protected(em, ref, old, sha)
    git(em.repo.path, "update-ref", ref, sha, old)
    return 200, o.git_ref(em.urls, em.full_name, ref, sha)


def delete_ref(em: GitHubEmulator, p: dict[str, str], q: Q, body: Any) -> tuple[int, Any]:
    _repo(em, p)
    ref = f"refs/{p['ref']}"
    old = em.repo.ref_sha(ref)
    if old is None:
        raise ApiError(422, o.error("Reference does not exist", "git/refs#delete-a-reference", 422))
    from .bare import git

    git(em.repo.path, "update-ref", "-d", ref, old)
    return 204, None


def put_contents(em: GitHubEmulator, p: dict[str, str], q: Q, body: Any) -> tuple[int, Any]:
    repo = _repo(em, p)
    doc = "repos/contents#create-or-update-file-contents"
    branch = body.get("branch") or em.repo.default_branch
    path = p["path"]
    current = em.repo.blob_sha(branch, path)
    given = body.get("sha")
    if current is not None and not given:
        raise ApiError(422, o.error('Invalid request.\n\n"sha" wasn\'t supplied.', doc, 422))
    if current is not None and given != current:
        raise ApiError(409, o.error(f"{path} does not match {given}", doc, 409))
    content = base64.b64decode(body.get("content", ""))
    commit = em.repo.commit_files(branch, {path: content}, body.get("message", "update"))
    blob = em.repo.blob_sha(branch, path) or ""
    base = f"{em.urls.api}/repos/{em.full_name}"
    author = {"name": "Someone Else", "email": "else@example.invalid", "date": o.now_iso()}
    return (200 if current else 201), {
        "content": {
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": blob,
            "size": len(content),
            "url": f"{base}/contents/{path}?ref={branch}",
            "html_url": f"{repo['html_url']}/blob/{branch}/{path}",
            "git_url": f"{base}/git/blobs/{blob}",
            "download_url": f"{em.urls.html}/raw/{em.full_name}/{branch}/{path}",
            "type": "file",
            "_links": {
                "self": f"{base}/contents/{path}?ref={branch}",
                "git": f"{base}/git/blobs/{blob}",
                "html": f"{repo['html_url']}/blob/{branch}/{path}",
            },
        },
        "commit": {
            "sha": commit,
            "node_id": o.node_id("C", 1),
            "url": f"{base}/git/commits/{commit}",
            "html_url": f"{repo['html_url']}/commit/{commit}",
            "author": author,
            "committer": author,
            "message": body.get("message", "update"),
            "tree": {"url": f"{base}/git/trees/x", "sha": "x"},
            "parents": [],
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        },
    }


def merge_pull(em: GitHubEmulator, p: dict[str, str], q: Q, body: Any) -> tuple[int, Any]:
    pull = _pull(em, p)
    doc = "pulls/pulls#merge-a-pull-request"
    method = (body or {}).get("merge_method", "merge")
    if pull.state != "open" or method not in ("merge", "squash"):
        raise ApiError(405, o.error("Pull Request is not mergeable", doc, 405))
    if method == "squash":
        message = f"{(body or {}).get('commit_title') or pull.title} (#{pull.number})\n\n{pull.body or ''}"
    else:
        message = f"Merge pull request #{pull.number} from {em.repo.owner}/{pull.head}\n\n{pull.title}"
    sha = em.repo.merge(pull.base, pull.head, message, squash=method == "squash")
    if sha is None:
        raise ApiError(405, o.error("Pull Request is not mergeable", doc, 405))
    pull.state, pull.closed_at = "closed", o.now_iso()
    pull.merged_at, pull.merge_commit_sha = pull.closed_at, sha
    return 200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}


def _route(method: str, template: str, fn: Any) -> tuple[str, re.Pattern[str], str, Any]:
    regex = re.sub(
        r"\\\{(\w+)\\\}",
        lambda m: f"(?P<{m.group(1)}>{'.+' if m.group(1) in ('ref', 'path') else '[^/]+'})",
        re.escape(template),
    )
    return method, re.compile(regex), template, fn


R = "/repos/{owner}/{repo}"
ROUTES = [
    _route("GET", R, get_repo),
    _route("GET", f"{R}/pulls", list_pulls),
    _route("POST", f"{R}/pulls", create_pull),
    _route("GET", f"{R}/pulls/{{pull_number}}", get_pull),
    _route("PATCH", f"{R}/pulls/{{pull_number}}", update_pull),
    _route("PUT", f"{R}/pulls/{{pull_number}}/merge", merge_pull),
    _route("POST", f"{R}/issues/{{issue_number}}/labels", add_labels),
    _route("POST", f"{R}/pulls/{{pull_number}}/requested_reviewers", request_reviewers),
    _route("GET", f"{R}/git/ref/{{ref}}", get_ref),
    _route("POST", f"{R}/git/refs", create_ref),
    _route("PATCH", f"{R}/git/refs/{{ref}}", update_ref),
    _route("DELETE", f"{R}/git/refs/{{ref}}", delete_ref),
    _route("PUT", f"{R}/contents/{{path}}", put_contents),
    _route("POST", f"{R}/git/blobs", create_blob),  # the Git Data API (issue 19)
    _route("POST", f"{R}/git/trees", create_tree),
    _route("POST", f"{R}/git/commits", create_commit),
    _route("GET", f"{R}/git/commits/{{commit_sha}}", get_commit),
]
