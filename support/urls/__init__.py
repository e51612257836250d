"""URL configurations of support: `pages` (mounted at /support/) and `api` (under /api/v1/).
Each is included by mlops.urls; this package itself holds no routes."""
