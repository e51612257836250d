from django.apps import AppConfig


class AuditsConfig(AppConfig):
    name = "audits"

    def ready(self):
        from django.conf import settings

        from .engine.profile import set_exact_values_max

        # The engine has no settings of its own: how far exact drift reaches is set here, once.
        set_exact_values_max(settings.KEEL_EXACT_DRIFT_MAX_VALUES)
