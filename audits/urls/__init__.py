"""The audits app's URLs: `pages` (the audit pages, namespace "audits", mounted at /audits/) and
`api` (the REST API, namespace "audits-api", mounted at /api/v1/)."""
