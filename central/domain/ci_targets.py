"""The CI delivery targets of `IKR:DELIVERY`: `github:<owner>/<repo>[/<environment>]` and
`gitlab:<project path or id>`, and the names the pair is written under (`IKR:SECRET_NAMES`).

Pure: a tag value in, the checked target or a reason out (`central.domain.delivery` says which tag).
Each rule is the one GitHub or GitLab applies, said when the tag is read, so a user learns it before a
key is made rather than from a refused write.
"""

from __future__ import annotations

import re

DEFAULT_NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")

# GitHub: a user or organization name is letters, digits and single hyphens, not at either end, at
# most 39 characters; a repository name is letters, digits, `.`, `_`, `-`, at most 100, not `.` or `..`.
_GITHUB_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}", re.ASCII)
_GITHUB_REPO = re.compile(r"[A-Za-z0-9._-]{1,100}", re.ASCII)
# GitHub allows up to 255 characters in an environment name; ikr takes the characters that need no
# escaping in a tag or a URL (a `/` would be read as another level of the target).
_GITHUB_ENVIRONMENT = re.compile(r"[A-Za-z0-9._-]{1,255}", re.ASCII)
# "Secret names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_)...
# must not start with the GITHUB_ prefix ... must not start with a number."
_GITHUB_SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
# GitLab: a project id is a positive number; a path is namespace(s)/project, each part letters,
# digits, `_`, `-`, `.`, starting with a letter, digit or `_`, not ending in `.git` or `.atom`.
_GITLAB_ID = re.compile(r"[1-9][0-9]{0,18}", re.ASCII)
_GITLAB_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}", re.ASCII)
_GITLAB_VARIABLE_KEY = re.compile(r"[A-Za-z0-9_]{1,255}", re.ASCII)  # "Only letters, digits and '_'"
# A masked GitLab variable: at least 8 characters of the Base64 alphabet (RFC 4648) and `@ : . ~`,
# one line. GitLab 12.0 and later (2019) take `+` and `/`, which a secret access key may hold.
_SEPARATOR = re.compile(r"[\s/]+")
MASKABLE = re.compile(r"[A-Za-z0-9+/=@:.~]{8,}", re.ASCII)


class CiTargetProblem(ValueError):
    """Why a CI target or a secret name cannot be used (a reason, without the tag)."""


def github_target(name: str) -> str:
    """`owner/repo` or `owner/repo/environment`, checked."""
    parts = name.split("/")
    if len(parts) < 2 or not parts[1]:
        raise CiTargetProblem(
            "a GitHub target is github:<owner>/<repository>[/<environment>]; the repository is missing"
        )
    if len(parts) > 3:
        raise CiTargetProblem("a GitHub target has at most three parts: <owner>/<repository>/<environment>")
    owner, repo = parts[0], parts[1]
    if not _GITHUB_OWNER.fullmatch(owner):
        raise CiTargetProblem(
            f"{owner!r} is not a GitHub owner (letters, digits and single hyphens, not at either end, 1-39 characters)"
        )
    if not _GITHUB_REPO.fullmatch(repo) or repo in (".", ".."):
        raise CiTargetProblem(f"{repo!r} is not a GitHub repository name (letters, digits, '.', '_', '-'; 1-100)")
    if len(parts) == 3 and not _GITHUB_ENVIRONMENT.fullmatch(parts[2]):
        raise CiTargetProblem(
            f"{parts[2]!r} is not an environment name ikr can use (letters, digits, '.', '_', '-'; 1-255)"
        )
    return name


def gitlab_target(name: str) -> str:
    """A numeric project id or a `namespace/project` path, checked."""
    if name.isdigit():
        if not _GITLAB_ID.fullmatch(name):
            raise CiTargetProblem(f"{name!r} is not a GitLab project id (a positive whole number)")
        return name
    parts = name.split("/")
    if len(parts) < 2:
        raise CiTargetProblem(
            f"{name!r} is neither a GitLab project id (a number) nor a project path (<namespace>/<project>)"
        )
    for part in parts:
        if not _GITLAB_PART.fullmatch(part) or part.endswith((".git", ".atom")):
            raise CiTargetProblem(
                f"{part!r} in {name!r} is not a GitLab namespace or project name (letters, digits, '_', '-', '.'; "
                "starting with a letter, digit or '_')"
            )
    return name


def secret_names(value: str, kind: str) -> tuple[str, str]:
    """`<access key id name> <secret access key name>` (a space or a `/` between: an IAM tag value
    cannot hold a comma) for `kind` `github` or `gitlab`, checked."""
    names = _SEPARATOR.split(value.strip())
    if len(names) != 2 or not all(names):
        raise CiTargetProblem(
            "give two names, separated by a space or '/': <name for the access key id> <name for the secret access key>"
        )
    first, second = names
    if first.upper() == second.upper():
        raise CiTargetProblem(f"the two names are the same ({first!r}); the key id and the secret need one each")
    for name in names:
        if kind == "github":
            if not _GITHUB_SECRET_NAME.fullmatch(name):
                raise CiTargetProblem(
                    f"{name!r} is not a GitHub secret name (letters, digits and '_', not starting with a digit)"
                )
            if name.upper().startswith("GITHUB_"):
                raise CiTargetProblem(f"{name!r}: GitHub reserves secret names that start with GITHUB_")
        elif not _GITLAB_VARIABLE_KEY.fullmatch(name):
            raise CiTargetProblem(f"{name!r} is not a GitLab variable key (letters, digits and '_', 1-255)")
    return first, second
