"""HTTP plumbing shared by every domain: dependencies, error handlers, middleware, the JSON route class."""

from tallyhold.api.lean_fastapi import refuse_pydantic_v1

# Before any route is made (every domain's routes import this package first).
refuse_pydantic_v1()
