"""The WSGI application gunicorn (and runserver) serve: Django, wrapped by the WSGI middleware that
settings.KEEL_WSGI_MIDDLEWARE names (the first named is outermost), such as the serving lists' entry
that answers polls ahead of Django when its cache can."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlops.settings")
django_application = get_wsgi_application()

from django.conf import settings  # noqa: E402  (read once the settings are configured above)
from django.utils.module_loading import import_string  # noqa: E402

application = django_application
for path in reversed(settings.KEEL_WSGI_MIDDLEWARE):
    application = import_string(path)(application)
