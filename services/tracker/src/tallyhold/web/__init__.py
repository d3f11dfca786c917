"""The customer's web pages, served by the instance at `/` (the API stays under `/v1`): server-rendered Jinja2
templates, a little progressive JavaScript, no front-end build step. Every number comes from the same services
the API answers with; sessions live in the customer's schema and are tied to the access token they began with."""
