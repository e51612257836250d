from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MlopsConfig(AppConfig):
    name = "mlops"
    verbose_name = "Keel"

    def ready(self):
        from . import celery  # noqa: F401  (the app @shared_task binds to, in every Django process)
        from .roles import sync_role_groups

        # Groups and their permissions are data every install needs (tests included), so they are
        # kept in step with mlops.roles after each migrate rather than seeded by hand.
        post_migrate.connect(sync_role_groups, dispatch_uid="keel-sync-role-groups")
