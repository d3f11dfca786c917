"""HTTP plumbing shared by every domain: dependencies, error handlers, middleware, the JSON route class."""
