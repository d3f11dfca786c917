"""No answer repeats a path or query parameter, in any encoding, not even one character of it.

The parameters come from the instance's own OpenAPI document, so a route added later is covered without
editing this file. Each parameter is sent twice, with two canaries of the same length that differ at every
position: both answers must be identical (an error that quotes the character a UUID failed at would differ)
and hold neither canary in any encoding, body or headers.
"""

from __future__ import annotations

import secrets
import urllib.parse
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.encodings import variants

VALID_ID = "00000000-0000-4000-8000-000000000000"


@dataclass(frozen=True)
class Parameter:
    method: str
    path: str
    location: str  # "path" or "query"
    name: str


def parameters_of(schema: dict[str, Any]) -> list[Parameter]:
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] in {"path", "query"}:
                    found.append(Parameter(method.upper(), path, parameter["in"], parameter["name"]))
    return found


def canary_pair() -> tuple[str, str]:
    """Two canaries of one length that differ at every position; their tails need URL encoding."""
    first, second = "cnryA" + secrets.token_hex(16), "qzxwB" + secrets.token_hex(16)
    second = "".join(b if a != b else ("0" if a != "0" else "1") for a, b in zip(first, second, strict=True))
    return first + "é<\"'>", second + "ü{`;}"


def request_for(parameter: Parameter, value: str) -> tuple[str, str]:
    path = parameter.path
    query = ""
    for placeholder in [part[1:-1] for part in path.split("/") if part.startswith("{")]:
        filled = value if placeholder == parameter.name and parameter.location == "path" else VALID_ID
        path = path.replace("{" + placeholder + "}", urllib.parse.quote(filled, safe=""))
    if parameter.location == "query":
        query = "?" + urllib.parse.urlencode({parameter.name: value})
    return parameter.method, path + query


def answer_text(response: httpx.Response) -> str:
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.multi_items())
    return f"{response.status_code}\n{headers}\n{response.text}"


async def test_the_document_has_path_and_query_parameters(app: FastAPI) -> None:
    found = parameters_of(app.openapi())
    assert {p.location for p in found} == {"path", "query"}
    assert any(p.name == "connection_id" for p in found)


async def test_no_parameter_is_echoed(app: FastAPI, client: httpx.AsyncClient) -> None:
    checked = 0
    for parameter in parameters_of(app.openapi()):
        answers = []
        for canary in canary_pair():
            method, url = request_for(parameter, canary)
            response = await client.request(method, url, json={} if method in {"POST", "PUT", "PATCH"} else None)
            text = answer_text(response)
            for encoding, form in variants(canary).items():
                assert form not in text, f"{parameter} echoed ({encoding})"
            # A part of the canary long enough to be recognised, in case only a piece is quoted.
            assert canary[:8] not in text, parameter
            answers.append((response.status_code, response.content))
        assert answers[0] == answers[1], f"{parameter}: the answer depends on the value ({answers})"
        assert answers[0][0] < 500, parameter
        checked += 1
    assert checked >= 5


@pytest.mark.parametrize(
    "value",
    ["x", "0000000g-0000-0000-0000-000000000000", "00000000-0000-0000-0000-00000000000Z", "{" * 40],
)
async def test_malformed_id_error_names_no_character(client: httpx.AsyncClient, value: str) -> None:
    response = await client.get(f"/v1/connections/{urllib.parse.quote(value, safe='')}")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["fields"] == [
        {"loc": ["path", "connection_id"], "type": "uuid_parsing", "msg": "Input should be a valid UUID."}
    ]
