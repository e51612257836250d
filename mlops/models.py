from django.db import models


class KeelAccess(models.Model):
    """No table: only carries the site-wide permission that every Keel role holds."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("use_keel", "Can sign in to Keel and read its pages and API")]

    def __str__(self) -> str:
        return "Keel access"
