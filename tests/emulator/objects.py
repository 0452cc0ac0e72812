"""JSON objects the emulator sends, shaped like GitHub's (checked against the OpenAPI description)."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any

DOCS = "https://docs.github.com/rest"


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def node_id(kind: str, number: int) -> str:
    return base64.b64encode(f"0:{kind}{number}".encode()).decode().rstrip("=")


def error(message: str, doc: str, status: int, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, "documentation_url": f"{DOCS}/{doc}", "status": str(status)}
    if errors is not None:
        body["errors"] = errors
    return body


@dataclass
class Urls:
    api: str  # http://127.0.0.1:P/api/v3
    html: str  # http://127.0.0.1:P


def user(urls: Urls, login: str, uid: int, kind: str = "User") -> dict[str, Any]:
    u = f"{urls.api}/users/{login}"
    return {
        "login": login,
        "id": uid,
        "node_id": node_id("U", uid),
        "avatar_url": f"{urls.html}/avatars/{login}",
        "gravatar_id": "",
        "url": u,
        "html_url": f"{urls.html}/{login}",
        "followers_url": f"{u}/followers",
        "following_url": f"{u}/following{{/other_user}}",
        "gists_url": f"{u}/gists{{/gist_id}}",
        "starred_url": f"{u}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{u}/subscriptions",
        "organizations_url": f"{u}/orgs",
        "repos_url": f"{u}/repos",
        "events_url": f"{u}/events{{/privacy}}",
        "received_events_url": f"{u}/received_events",
        "type": kind,
        "site_admin": False,
    }


def team(urls: Urls, org: str, slug: str, tid: int) -> dict[str, Any]:
    u = f"{urls.api}/organizations/1/team/{tid}"
    return {
        "id": tid,
        "node_id": node_id("T", tid),
        "url": u,
        "members_url": f"{u}/members{{/member}}",
        "name": slug,
        "description": None,
        "permission": "pull",
        "html_url": f"{urls.html}/orgs/{org}/teams/{slug}",
        "repositories_url": f"{u}/repos",
        "slug": slug,
        "parent": None,
        "type": "organization",
        "privacy": "closed",
        "notification_setting": "notifications_enabled",
    }


def repository(urls: Urls, owner: dict[str, Any], name: str, default_branch: str, rid: int = 1) -> dict[str, Any]:
    full = f"{owner['login']}/{name}"
    u = f"{urls.api}/repos/{full}"
    stamp = now_iso()
    templated = {
        "archive_url": "{archive_format}{/ref}",
        "assignees_url": "assignees{/user}",
        "blobs_url": "git/blobs{/sha}",
        "branches_url": "branches{/branch}",
        "collaborators_url": "collaborators{/collaborator}",
        "comments_url": "comments{/number}",
        "commits_url": "commits{/sha}",
        "compare_url": "compare/{base}...{head}",
        "contents_url": "contents/{+path}",
        "contributors_url": "contributors",
        "deployments_url": "deployments",
        "downloads_url": "downloads",
        "events_url": "events",
        "forks_url": "forks",
        "git_commits_url": "git/commits{/sha}",
        "git_refs_url": "git/refs{/sha}",
        "git_tags_url": "git/tags{/sha}",
        "hooks_url": "hooks",
        "issue_comment_url": "issues/comments{/number}",
        "issue_events_url": "issues/events{/number}",
        "issues_url": "issues{/number}",
        "keys_url": "keys{/key_id}",
        "labels_url": "labels{/name}",
        "languages_url": "languages",
        "merges_url": "merges",
        "milestones_url": "milestones{/number}",
        "notifications_url": "notifications{?since,all,participating}",
        "pulls_url": "pulls{/number}",
        "releases_url": "releases{/id}",
        "stargazers_url": "stargazers",
        "statuses_url": "statuses/{sha}",
        "subscribers_url": "subscribers",
        "subscription_url": "subscription",
        "tags_url": "tags",
        "teams_url": "teams",
        "trees_url": "git/trees{/sha}",
    }
    data: dict[str, Any] = {key: f"{u}/{tail}" for key, tail in templated.items()}
    data.update(
        {
            "id": rid,
            "node_id": node_id("R", rid),
            "name": name,
            "full_name": full,
            "owner": owner,
            "private": True,
            "html_url": f"{urls.html}/{full}",
            "description": "GitOps manifests",
            "fork": False,
            "url": u,
            "clone_url": f"{urls.html}/{full}.git",
            "git_url": f"git://127.0.0.1/{full}.git",
            "ssh_url": f"git@127.0.0.1:{full}.git",
            "svn_url": f"{urls.html}/{full}",
            "mirror_url": None,
            "homepage": None,
            "language": None,
            "forks": 0,
            "forks_count": 0,
            "stargazers_count": 0,
            "watchers": 0,
            "watchers_count": 0,
            "size": 1,
            "default_branch": default_branch,
            "open_issues": 0,
            "open_issues_count": 0,
            "is_template": False,
            "topics": [],
            "has_issues": True,
            "has_projects": False,
            "has_wiki": False,
            "has_pages": False,
            "has_downloads": True,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "visibility": "private",
            "license": None,
            "pushed_at": stamp,
            "created_at": stamp,
            "updated_at": stamp,
            "network_count": 0,
            "subscribers_count": 1,
            "permissions": {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
            "allow_forking": True,
            "web_commit_signoff_required": False,
        }
    )
    return data


@dataclass
class Label:
    id: int
    name: str
    color: str = "ededed"

    def json(self, urls: Urls, full: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "node_id": node_id("L", self.id),
            "url": f"{urls.api}/repos/{full}/labels/{self.name}",
            "name": self.name,
            "description": "",
            "color": self.color,
            "default": False,
        }


@dataclass
class Pull:
    number: int
    id: int
    title: str
    body: str | None
    head: str
    base: str
    draft: bool
    author: str
    state: str = "open"
    labels: list[Label] = field(default_factory=list)
    reviewers: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    closed_at: str | None = None
    merged_at: str | None = None
    merge_commit_sha: str | None = None

    def json(
        self, urls: Urls, repo: dict[str, Any], shas: tuple[str, str], stats: dict[str, int], full: bool
    ) -> dict[str, Any]:
        owner = repo["owner"]
        fullname = repo["full_name"]
        u = f"{urls.api}/repos/{fullname}/pulls/{self.number}"
        issue = f"{urls.api}/repos/{fullname}/issues/{self.number}"
        html = f"{urls.html}/{fullname}/pull/{self.number}"
        statuses = f"{urls.api}/repos/{fullname}/statuses/{shas[0]}"
        links = {
            "self": u,
            "html": html,
            "issue": issue,
            "comments": f"{issue}/comments",
            "review_comments": f"{u}/comments",
            "review_comment": f"{urls.api}/repos/{fullname}/pulls/comments{{/number}}",
            "commits": f"{u}/commits",
            "statuses": statuses,
        }
        data: dict[str, Any] = {
            "url": u,
            "id": self.id,
            "node_id": node_id("PR", self.id),
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": issue,
            "commits_url": links["commits"],
            "review_comments_url": links["review_comments"],
            "review_comment_url": links["review_comment"],
            "comments_url": links["comments"],
            "statuses_url": statuses,
            "number": self.number,
            "state": self.state,
            "locked": False,
            "title": self.title,
            "user": user(urls, self.author, 41898282, "Bot"),
            "body": self.body,
            "labels": [label.json(urls, fullname) for label in self.labels],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "closed_at": self.closed_at,
            "merged_at": self.merged_at,
            "merge_commit_sha": self.merge_commit_sha,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [user(urls, login, 1000 + i) for i, login in enumerate(self.reviewers)],
            "requested_teams": [team(urls, owner["login"], slug, 2000 + i) for i, slug in enumerate(self.teams)],
            "head": {
                "label": f"{owner['login']}:{self.head}",
                "ref": self.head,
                "sha": shas[0],
                "user": owner,
                "repo": repo,
            },
            "base": {
                "label": f"{owner['login']}:{self.base}",
                "ref": self.base,
                "sha": shas[1],
                "user": owner,
                "repo": repo,
            },
            "_links": {key: {"href": value} for key, value in links.items()},
            "author_association": "NONE",
            "auto_merge": None,
            "draft": self.draft,
        }
        if full:
            data.update(
                {
                    "merged": self.merged_at is not None,
                    "mergeable": True,
                    "rebaseable": True,
                    "mergeable_state": "clean",
                    "merged_by": None,
                    "comments": 0,
                    "review_comments": 0,
                    "maintainer_can_modify": False,
                    **stats,
                }
            )
        return data


def git_ref(urls: Urls, full: str, ref: str, sha: str) -> dict[str, Any]:
    return {
        "ref": ref,
        "node_id": node_id("REF", abs(hash(ref)) % 10**6),
        "url": f"{urls.api}/repos/{full}/git/{ref}",
        "object": {"type": "commit", "sha": sha, "url": f"{urls.api}/repos/{full}/git/commits/{sha}"},
    }
