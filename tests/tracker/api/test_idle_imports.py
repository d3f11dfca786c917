"""What an idle instance holds: `tallyhold serve`'s app and server, built as serve builds them, import neither
Jinja2 (the web pages load it at their first page), nor the websockets package (no WebSocket route), nor a
character-set detector for requests (`lean_imports.py`), nor pydantic v1 (`api/lean_fastapi.py`), nor the command
line's typer (`tallyhold/serve.py`), nor uvicorn's command line (click, its reloaders and supervisors:
`lean_imports.py`; `uvicorn.run`, when read, still imports it), nor run SQLAlchemy's dialects of the Postgres
drivers it does not use (each runs when read). Each is a fraction of a MiB to a few MiB of every idle instance on
a host of many customers. FastAPI's OpenAPI models are built at the first `/openapi.json`, not at start-up
(`api/lean_fastapi.py`), and the document is the same; the egress worker's wire messages at their first use
(`egress/protocol.py`). Run in a fresh interpreter: the test process has imported them already."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.fixtures.openapi import served_document

CODE = """
import json, sys
from importlib.metadata import version
import tallyhold.serve  # what the local launcher starts: `python -m tallyhold.serve`
from tallyhold.api.server import uvicorn_config
from tallyhold.app import create_app
from tallyhold.settings import Settings

settings = Settings(
    ENV="development", DATABASE_URL="postgresql+psycopg://u:p@127.0.0.1:9/x", DB_SCHEMA="t_00ff", CUSTOMER_ID="t_00ff"
)
config = uvicorn_config(create_app(settings), settings)
config.load()  # what uvicorn does before it serves: picks the protocol classes
absent = (
    "jinja2", "websockets", "charset_normalizer", "chardet", "pydantic.v1", "typer", "uvicorn.main", "click",
    "uvicorn.supervisors",
)
idle = [m for m in absent if sys.modules.get(m)]
from types import ModuleType
drivers = ("asyncpg", "pg8000", "psycopg2cffi")  # SQLAlchemy's dialects of the drivers the instance does not use
unrun = [d for d in drivers if type(sys.modules[f"sqlalchemy.dialects.postgresql.{d}"]) is not ModuleType]
from sqlalchemy.dialects import registry
dialects = [registry.load(f"postgresql.{d}").__name__ for d in drivers]  # each runs when read, as before
from fastapi.encoders import jsonable_encoder
from types import SimpleNamespace
# An object of no known kind reaches FastAPI's pydantic v1 check, which answers "no" without pydantic v1.
encoded = jsonable_encoder(SimpleNamespace(port=8080))
from tallyhold.web.rendering import render
page = render("error.html", {"title": "Not found"}, status_code=404)
import requests.models
answer = requests.models.Response()
answer._content = "déjà".encode()  # no charset declared: requests falls back to UTF-8 without a detector
after_page = "jinja2" in sys.modules
import uvicorn  # its package's names, read now, import their modules: the command line too
command_line = [uvicorn.run.__module__, uvicorn.main.name, uvicorn.Server.__module__, uvicorn.__version__]
print(json.dumps({
    "idle": idle, "page": page.status_code, "jinja2_after_page": after_page, "text": answer.text,
    "encoded": encoded == {"port": 8080}, "v1_after_encoding": bool(sys.modules.get("pydantic.v1")),
    "command_line": command_line, "version": version("uvicorn"), "unrun": unrun, "dialects": dialects,
}))
"""


def test_an_idle_instance_imports_no_jinja2_websockets_charset_detector_pydantic_v1_typer_or_uvicorn_cli() -> None:
    done = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True)
    found = json.loads(done.stdout)
    assert found["idle"] == []
    assert found["page"] == 404
    assert found["jinja2_after_page"]
    assert found["text"] == "déjà"
    assert found["encoded"]
    assert not found["v1_after_encoding"]
    # The package's names are uvicorn's own: `main` the command (not the module of that name), its version.
    assert found["command_line"] == ["uvicorn.main", "main", "uvicorn.server", found["version"]]
    assert found["unrun"] == ["asyncpg", "pg8000", "psycopg2cffi"]
    assert found["dialects"] == ["PGDialect_asyncpg", "PGDialect_pg8000", "PGDialect_psycopg2cffi"]


DEFERRED_OPENAPI = """
import json
import tallyhold.serve  # what the local launcher starts: `python -m tallyhold.serve`
from fastapi.openapi import models
from pydantic import BaseModel
from starlette.testclient import TestClient
from tallyhold.app import create_app
from tallyhold.settings import Settings

settings = Settings(
    ENV="development", DATABASE_URL="postgresql+psycopg://u:p@127.0.0.1:9/x", DB_SCHEMA="t_00ff", CUSTOMER_ID="t_00ff"
)
app = create_app(settings)
openapi_models = [
    m for m in vars(models).values() if isinstance(m, type) and issubclass(m, BaseModel) and m is not BaseModel
]
# The module itself rebuilds the models with forward references (Schema, Operation, ...) at its import: built
# anyway, and the ones they hold with them.
deferred = [model.__name__ for model in openapi_models if not model.__pydantic_complete__]
answer = TestClient(app).get("/openapi.json")
print(json.dumps({"deferred": deferred, "openapi_models": len(openapi_models),
                  "built_after": models.OpenAPI.__pydantic_complete__,
                  "status": answer.status_code, "document": answer.json()}))
"""


def test_fastapis_openapi_models_are_built_at_the_first_document_which_is_the_same() -> None:
    env = {name: value for name, value in os.environ.items() if name != "PYTHONOPTIMIZE"}  # as served_document's
    done = subprocess.run([sys.executable, "-c", DEFERRED_OPENAPI], capture_output=True, text=True, check=True, env=env)
    found = json.loads(done.stdout)
    assert "OpenAPI" in found["deferred"]
    assert len(found["deferred"]) > found["openapi_models"] // 2  # before: only the 3 whose references were unresolved
    assert found["built_after"]
    eager = served_document()  # the app alone, FastAPI imported as it is: its models built at its import
    assert (found["status"], found["document"]) == (eager["status"], eager["document"])


WIRE_MESSAGES = """
import json
import tallyhold.serve
from pydantic import ValidationError
from tallyhold.app import create_app
from tallyhold.egress.protocol import WireMessage
from tallyhold.prices.wire import TickersReply
from tallyhold.settings import Settings

settings = Settings(
    ENV="development", DATABASE_URL="postgresql+psycopg://u:p@127.0.0.1:9/x", DB_SCHEMA="t_00ff", CUSTOMER_ID="t_00ff"
)
create_app(settings)
import tallyhold.runtime  # noqa: F401  # everything `serve` imports


def subclasses(model):
    for sub in model.__subclasses__():
        yield sub
        yield from subclasses(sub)


messages = list(subclasses(WireMessage))
built_at_idle = [m.__name__ for m in messages if m.__pydantic_complete__]
answer = {"tickers": [{"venue": "kraken", "base": "BTC", "quote": "EUR", "price": "1.5", "at": "2026-01-01T00:00:00Z"}]}
reply = TickersReply.model_validate(answer)
try:
    TickersReply.model_validate({"tickers": [{**answer["tickers"][0], "price": "0"}]})
    refused = None
except ValidationError as exc:
    refused = exc.errors()[0]["type"]
print(json.dumps({"messages": len(messages), "built_at_idle": built_at_idle, "dumped": reply.model_dump(mode="json"),
                  "refused": refused}))
"""


def test_the_egress_wire_messages_are_built_at_their_first_use_and_validate_as_before() -> None:
    done = subprocess.run([sys.executable, "-c", WIRE_MESSAGES], capture_output=True, text=True, check=True)
    found = json.loads(done.stdout)
    assert found["messages"] > 0  # the message models the instance has imported
    assert found["built_at_idle"] == []
    assert found["dumped"] == {
        "tickers": [{"venue": "kraken", "base": "BTC", "quote": "EUR", "price": "1.5", "at": "2026-01-01T00:00:00Z"}],
        "failures": [],
    }
    assert found["refused"] == "greater_than"
