"""GitLab CI/CD variables of a project: masked and protected, for every environment (`*`).

A variable is updated when it exists (PUT, filtered to the `*` scope so a variable of the same key
for one environment is left alone) and created otherwise (POST after the PUT's 404; a 404 there means
the project is missing). GitLab masks a value of at least 8 characters of the Base64 alphabet and
`@ : . ~` (GitLab 12.0, 2019, and later; 11.10 did not take `+` and `/`, which a secret access key
may hold). A value that cannot be masked is refused here and never written unmasked; a GitLab that
refuses one anyway (400) is a refusal with that said.
"""

from __future__ import annotations

from urllib.parse import quote

from pydantic import SecretStr

from central.cistores.http import CiApi, send
from central.domain.ci_targets import MASKABLE
from central.domain.delivery import Delivery

SCOPE = "*"


class GitLabVariables(CiApi):
    api, kind = "GitLab", "CI/CD variables"

    def write(self, delivery: Delivery, key_id: str, secret: SecretStr, who: str) -> str:
        """Both variables written; what the owner's notice calls the version."""
        assert delivery.name is not None
        target = self.target(who, delivery)
        values = (key_id, secret.get_secret_value())
        if not all(MASKABLE.fullmatch(value) for value in values):
            raise target.refused("the value cannot be masked by GitLab, and ikr never writes a key unmasked")
        variables = f"{self._api}/projects/{quote(delivery.name, safe='')}/variables"
        thing = f"project {delivery.name}"
        headers = {"PRIVATE-TOKEN": self._token.get_secret_value()}
        written = ""
        for key, value in zip(delivery.secret_names, values, strict=True):
            body = {"value": value, "masked": True, "protected": True}
            update = f"{variables}/{key}?filter%5Benvironment_scope%5D={quote(SCOPE)}"
            answer = send(target, "PUT", update, headers, thing=thing, written=written, body=body, accept=(400, 404))
            if answer.status_code == 404:
                create = {"key": key, "environment_scope": SCOPE, **body}
                answer = send(
                    target, "POST", variables, headers, thing=thing, written=written, body=create, accept=(400,)
                )
            if answer.status_code == 400:
                raise (target.uncertain if written else target.refused)(
                    f"GitLab refused to store {key} masked and protected (400); a GitLab before 12.0 cannot mask '+' "
                    "or '/'; ikr never writes a key unmasked"
                )
            written = key
        return "masked and protected"
