"""HTTP plumbing shared by every domain: dependencies, error handlers, middleware, the JSON route class."""

from tallyhold.api.lean_fastapi import refuse_pydantic_v1
from tallyhold.lean_imports import uvicorn_without_command_line

# Before any route is made (every domain's routes import this package first).
refuse_pydantic_v1()
# Before `api/server.py` imports uvicorn: the server without uvicorn's command line (lean_imports.py).
uvicorn_without_command_line()
