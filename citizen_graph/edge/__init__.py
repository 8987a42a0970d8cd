"""The HTTP stage of /graphql: small ASGI parts, composed in order by `app.py`.

Each part does one thing and hands the request on: the request's scope (deadline, journal,
metrics), JSON refusals (and their audit records), the method, authentication with role and
purpose, the body limit; Strawberry's view comes last.
"""
