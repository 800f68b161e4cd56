"""OFREP responses checked against the protocol's own OpenAPI document
(tests/data/ofrep-openapi.yaml, copied unchanged from open-feature/protocol service/openapi.yaml).

One correction is made on load, to the letter of the document: `codeDefaultFlag` says it
"has no `value` property", but its schema (`properties: {}`) matches every object, so under
`oneOf` no success carrying a value could ever validate. It is read as "no `value`".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

SPEC_FILE = Path(__file__).parent / "data" / "ofrep-openapi.yaml"


def _load() -> OpenAPI:
    document: dict[str, Any] = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    document["components"]["schemas"]["codeDefaultFlag"]["not"] = {"required": ["value"]}
    return OpenAPI.from_dict(document)


SPEC = _load()


def check(path: str, request_body: Any, status: int, body: bytes, headers: Any = None) -> None:
    """Raise unless the response is what the OFREP document allows for that request."""
    request = MockRequest(
        "http://rollbot.test",
        "post",
        path,
        data=json.dumps(request_body),
        headers={"If-None-Match": "x"} if headers else None,
        content_type="application/json",
    )
    response = MockResponse(
        body or b"", status_code=status, content_type="application/json" if body else None
    )
    SPEC.validate_response(request, response)
