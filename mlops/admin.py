"""Admin pieces every app's admin shares."""


class ViewOnlyMixin:
    """No add, change or delete for anyone, superusers included: the admin then renders read-only
    pages and answers 403 to a forged POST."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
