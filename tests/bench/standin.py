"""A fast in-memory AWS for the few APIs a steady-state run (and the per-user pattern) calls.

It answers at botocore's `before-send`, the last step before the HTTP request would leave: the real
ikr code, boto3 clients, request serialising, response parsing and botocore's retry handler all
run, only the network and the emulator are replaced. Every answer waits `latency` seconds first
(the GIL is released meanwhile, as on a real socket), like a round trip to AWS.

The Organization: the management account under the root, and `accounts` member accounts in one OU
tagged IKR:ENABLED=true. Every member account has `users` IAM users, the first `managed` tagged
IKR:EMAIL, each with one active key `key_age_days` old: nobody is due. The credential report is
fresh (made within 4 hours: GenerateCredentialReport answers COMPLETE), and the expiry table holds
nothing: the steady state of a daily run.

Served: STS AssumeRole, GetCallerIdentity; Organizations ListRoots, ListOrganizationalUnitsForParent,
ListAccountsForParent (20 a page, as AWS, accounts with `State`), ListTagsForResource; IAM
GetAccountAuthorizationDetails (MaxItems honoured), GenerateCredentialReport, GetCredentialReport,
ListAccessKeys, ListUsers (100 a page by default, as AWS), ListUserTags; DynamoDB DescribeTable, Query,
Scan. Anything else is answered with an error, so nothing ever leaves the machine.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import botocore.handlers
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

CENTRAL = "123456789012"
ROOT = "r-bnch"
OU = "ou-bnch-workload"
ORG_PAGE = 20  # ListAccountsForParent's largest page
_ACCOUNT = "@@ACCOUNT@@"
_IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
_STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
_CREDENTIAL = re.compile(r"Credential=([^/]+)/")
_REPORT_HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,"
    "cert_2_active,cert_2_last_rotated"
)


class _Body:
    """The `raw` of an AWSResponse: botocore reads it through `stream()`."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self._data


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class StandIn:
    def __init__(self, accounts: int, users: int, managed: int, latency: float = 0.05, key_age_days: int = 10) -> None:
        self.latency = latency
        self.members = [f"{200000000000 + n}" for n in range(accounts)]
        self._known = {CENTRAL, *self.members}
        self.requests: Counter[str] = Counter()  # "service:Operation", every HTTP request (retries too)
        self._lock = threading.Lock()
        now = datetime.now(UTC).replace(microsecond=0)
        self.user_created = now - timedelta(days=400)
        self.key_created = now - timedelta(days=key_age_days)
        self.names = [f"user{i:04d}" for i in range(users)]
        self.tags = {
            name: [("IKR:EMAIL", f"u{i}@example.com")] if i < managed else [("team", "data")]
            for i, name in enumerate(self.names)
        }
        self._user_xml = [self._user_detail(name) for name in self.names]
        self._report = self._report_template()
        self._operations: dict[str, Callable[[str, dict[str, Any]], tuple[int, str, bytes]]] = {
            "sts.AssumeRole": self._assume_role,
            "sts.GetCallerIdentity": self._caller,
            "organizations.ListRoots": self._roots,
            "organizations.ListOrganizationalUnitsForParent": self._units,
            "organizations.ListAccountsForParent": self._accounts,
            "organizations.ListTagsForResource": self._org_tags,
            "iam.GetAccountAuthorizationDetails": self._authorization_details,
            "iam.GenerateCredentialReport": self._generate_report,
            "iam.GetCredentialReport": self._get_report,
            "iam.ListAccessKeys": self._access_keys,
            "iam.ListUsers": self._list_users,
            "iam.ListUserTags": self._user_tags,
            "dynamodb.DescribeTable": self._describe_table,
            "dynamodb.Query": self._empty_items,
            "dynamodb.Scan": self._empty_items,
        }

    # -- wiring ---------------------------------------------------------------------------------
    @contextmanager
    def installed(self) -> Iterator[StandIn]:
        """Answer every botocore session made inside the block (each registers the built-in handlers)."""
        spec = ("before-send", self._answer, botocore.handlers.REGISTER_FIRST)
        botocore.handlers.BUILTIN_HANDLERS.append(spec)
        try:
            yield self
        finally:
            botocore.handlers.BUILTIN_HANDLERS.remove(spec)

    def _answer(self, request: AWSPreparedRequest, event_name: str = "", **_kwargs: Any) -> AWSResponse:
        _, service, operation = event_name.split(".", 2)
        key = f"{service}.{operation}"
        with self._lock:
            self.requests[f"{service}:{operation}"] += 1
        body = request.body or b""
        text = body.decode("utf-8") if isinstance(body, bytes) else str(body)
        if service in ("iam", "sts"):
            params: dict[str, Any] = {name: values[0] for name, values in parse_qs(text).items()}
        else:
            params = json.loads(text or "{}")
        handler = self._operations.get(key)
        if self.latency:
            time.sleep(self.latency)
        if handler is None:
            return self._error(request, 400, f"{key} is not in the stand-in")
        account = self._account_of(request)
        status, content_type, payload = handler(account, params)
        return AWSResponse(request.url, status, {"Content-Type": content_type}, _Body(payload))

    def _account_of(self, request: AWSPreparedRequest) -> str:
        found = _CREDENTIAL.search(str(request.headers.get("Authorization", "")))
        key = found.group(1) if found else ""
        account = key[4:] if key.startswith("ASIA") else CENTRAL
        return account if account in self._known else CENTRAL

    def _error(self, request: AWSPreparedRequest, status: int, message: str) -> AWSResponse:
        body = json.dumps({"__type": "ValidationException", "message": message}).encode()
        return AWSResponse(request.url, status, {"Content-Type": "application/x-amz-json-1.1"}, _Body(body))

    # -- STS ------------------------------------------------------------------------------------
    @staticmethod
    def _xml(namespace: str, operation: str, inner: str) -> tuple[int, str, bytes]:
        body = (
            f'<{operation}Response xmlns="{namespace}"><{operation}Result>{inner}</{operation}Result>'
            f"<ResponseMetadata><RequestId>stand-in</RequestId></ResponseMetadata></{operation}Response>"
        )
        return 200, "text/xml", body.encode()

    def _assume_role(self, _account: str, params: dict[str, Any]) -> tuple[int, str, bytes]:
        target = str(params["RoleArn"]).split(":")[4]
        return self._xml(
            _STS_NS,
            "AssumeRole",
            f"<Credentials><AccessKeyId>ASIA{target}</AccessKeyId><SecretAccessKey>stand-in</SecretAccessKey>"
            f"<SessionToken>stand-in</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>"
            f"<AssumedRoleUser><AssumedRoleId>AROASTANDIN:ikr</AssumedRoleId>"
            f"<Arn>arn:aws:sts::{target}:assumed-role/ikr-member/ikr-rotate</Arn></AssumedRoleUser>",
        )

    def _caller(self, account: str, _params: dict[str, Any]) -> tuple[int, str, bytes]:
        return self._xml(
            _STS_NS,
            "GetCallerIdentity",
            f"<Arn>arn:aws:iam::{account}:user/bench</Arn><UserId>AIDASTANDIN</UserId><Account>{account}</Account>",
        )

    # -- Organizations --------------------------------------------------------------------------
    @staticmethod
    def _json(payload: dict[str, Any], version: str = "1.1") -> tuple[int, str, bytes]:
        return 200, f"application/x-amz-json-{version}", json.dumps(payload).encode()

    def _roots(self, _account: str, _params: dict[str, Any]) -> tuple[int, str, bytes]:
        arn = f"arn:aws:organizations::{CENTRAL}:root/o-standin/{ROOT}"
        return self._json({"Roots": [{"Id": ROOT, "Arn": arn, "Name": "Root", "PolicyTypes": []}]})

    def _units(self, _account: str, params: dict[str, Any]) -> tuple[int, str, bytes]:
        units = [{"Id": OU, "Arn": f"arn:aws:organizations::{CENTRAL}:ou/o-standin/{OU}", "Name": "Workloads"}]
        return self._json({"OrganizationalUnits": units if params["ParentId"] == ROOT else []})

    def _account_ids(self, parent: str) -> list[str]:
        return [CENTRAL] if parent == ROOT else self.members

    def _accounts(self, _account: str, params: dict[str, Any]) -> tuple[int, str, bytes]:
        # As AWS lists accounts since 2026-09-09: `State`, no `Status`.
        ids = self._account_ids(params["ParentId"])
        return self._json(
            self._paged(
                "Accounts",
                [
                    {
                        "Id": account_id,
                        "Arn": f"arn:aws:organizations::{CENTRAL}:account/o-standin/{account_id}",
                        "Email": f"{account_id}@example.org",
                        "Name": "master" if account_id == CENTRAL else f"member-{account_id}",
                        "State": "ACTIVE",
                        "JoinedMethod": "CREATED",
                        "JoinedTimestamp": 1_600_000_000.0,
                    }
                    for account_id in ids
                ],
                params,
            )
        )

    @staticmethod
    def _paged(key: str, items: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        """One page of an Organizations listing (20 at most, as AWS), its NextToken the next index."""
        start = int(params.get("NextToken") or 0)
        size = min(int(params.get("MaxResults") or ORG_PAGE), ORG_PAGE)
        answer: dict[str, Any] = {key: items[start : start + size]}
        if start + size < len(items):
            answer["NextToken"] = str(start + size)
        return answer

    def _org_tags(self, _account: str, params: dict[str, Any]) -> tuple[int, str, bytes]:
        tags = [{"Key": "IKR:ENABLED", "Value": "true"}] if params["ResourceId"] == OU else []
        return self._json({"Tags": tags})

    # -- IAM ------------------------------------------------------------------------------------
    def _arn(self, name: str) -> str:
        return f"arn:aws:iam::{_ACCOUNT}:user/{name}"

    def _key_id(self, account: str, name: str) -> str:
        return f"AKIA{account[-8:]}{name[-4:]}0000"[:20]

    def _tags_xml(self, name: str) -> str:
        return "".join(
            f"<member><Key>{escape(key)}</Key><Value>{escape(value)}</Value></member>" for key, value in self.tags[name]
        )

    def _user_detail(self, name: str) -> str:
        return (
            f"<member><Path>/</Path><UserName>{name}</UserName><UserId>AIDA{name.upper()}</UserId>"
            f"<Arn>{self._arn(name)}</Arn><CreateDate>{_iso(self.user_created)}</CreateDate>"
            f"<UserPolicyList/><GroupList/><AttachedManagedPolicies/><Tags>{self._tags_xml(name)}</Tags></member>"
        )

    def _authorization_details(self, account: str, params: dict[str, Any]) -> tuple[int, str, bytes]:
        start = int(params.get("Marker") or 0)
        size = int(params.get("MaxItems") or 100)
        members = "".join(self._user_xml[start : start + size])
        truncated = start + size < len(self.names)
        more = f"<Marker>{start + size}</Marker>" if truncated else ""
        inner = (
            f"<IsTruncated>{str(truncated).lower()}</IsTruncated>{more}<UserDetailList>{members}</UserDetailList>"
            "<GroupDetailList/><RoleDetailList/><Policies/>"
        )
        status, kind, body = self._xml(_IAM_NS, "GetAccountAuthorizationDetails", inner)
        return status, kind, body.replace(_ACCOUNT.encode(), account.encode())

    def _report_template(self) -> str:
        rows = [_REPORT_HEADER]
        created, rotated = _iso(self.user_created), _iso(self.key_created)
        for name in self.names:
            rows.append(
                f"{name},{self._arn(name)},{created},false,N/A,N/A,N/A,false,true,{rotated},N/A,N/A,N/A,"
                "false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
            )
        return "\n".join(rows)

    def _generate_report(self, _account: str, _params: dict[str, Any]) -> tuple[int, str, bytes]:
        return self._xml(_IAM_NS, "GenerateCredentialReport", "<State>COMPLETE</State><Description>fresh</Description>")

    def _get_report(self, account: str, _params: dict[str, Any]) -> tuple[int, str, bytes]:
        content = base64.b64encode(self._report.replace(_ACCOUNT, account).encode()).decode()
        generated = _iso(datetime.now(UTC) - timedelta(hours=1))
        return self._xml(
            _IAM_NS,
            "GetCredentialReport",
            f"<Content>{content}</Content><ReportFormat>text/csv</ReportFormat><GeneratedTime>{generated}</GeneratedTime>",
        )

    def _access_keys(self, account: str, params: dict[str, Any]) -> tuple[int, str, bytes]:
        name = str(params["UserName"])
        member = (
            f"<member><UserName>{name}</UserName><AccessKeyId>{self._key_id(account, name)}</AccessKeyId>"
            f"<Status>Active</Status><CreateDate>{_iso(self.key_created)}</CreateDate></member>"
        )
        return self._xml(
            _IAM_NS,
            "ListAccessKeys",
            f"<UserName>{name}</UserName><AccessKeyMetadata>{member}</AccessKeyMetadata><IsTruncated>false</IsTruncated>",
        )

    def _list_users(self, account: str, params: dict[str, Any]) -> tuple[int, str, bytes]:
        start = int(params.get("Marker") or 0)
        size = int(params.get("MaxItems") or 100)
        members = "".join(
            f"<member><Path>/</Path><UserName>{name}</UserName><UserId>AIDA{name.upper()}</UserId>"
            f"<Arn>arn:aws:iam::{account}:user/{name}</Arn><CreateDate>{_iso(self.user_created)}</CreateDate></member>"
            for name in self.names[start : start + size]
        )
        truncated = start + size < len(self.names)
        more = f"<Marker>{start + size}</Marker>" if truncated else ""
        inner = f"<Users>{members}</Users><IsTruncated>{str(truncated).lower()}</IsTruncated>{more}"
        return self._xml(_IAM_NS, "ListUsers", inner)

    def _user_tags(self, _account: str, params: dict[str, Any]) -> tuple[int, str, bytes]:
        name = str(params["UserName"])
        return self._xml(
            _IAM_NS, "ListUserTags", f"<Tags>{self._tags_xml(name)}</Tags><IsTruncated>false</IsTruncated>"
        )

    # -- DynamoDB -------------------------------------------------------------------------------
    def _describe_table(self, _account: str, params: dict[str, Any]) -> tuple[int, str, bytes]:
        name = params["TableName"]
        arn = f"arn:aws:dynamodb:us-east-1:{CENTRAL}:table/{name}"
        table = {
            "TableName": name,
            "TableArn": arn,
            "TableStatus": "ACTIVE",
            "KeySchema": [
                {"AttributeName": "account_id", "KeyType": "HASH"},
                {"AttributeName": "item_key", "KeyType": "RANGE"},
            ],
            "LatestStreamArn": f"{arn}/stream/2026-01-01T00:00:00.000",
        }
        return self._json({"Table": table}, version="1.0")

    def _empty_items(self, _account: str, _params: dict[str, Any]) -> tuple[int, str, bytes]:
        return self._json({"Items": [], "Count": 0, "ScannedCount": 0}, version="1.0")
