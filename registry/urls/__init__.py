"""The registry's URL configurations: `pages` (/models/), `promotion` (/promotions/) and `api`
(/api/v1/), each included by mlops/urls.py under its own namespace."""
