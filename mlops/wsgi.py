"""The WSGI application gunicorn (and runserver) serve: Django, with serving-list polls answered
ahead of it when the cache can (support.lists.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlops.settings")
django_application = get_wsgi_application()

from support.lists.wsgi import ServingListsWSGI  # noqa: E402  (needs the settings configured above)

application = ServingListsWSGI(django_application)
