from django.apps import AppConfig


class AuditsConfig(AppConfig):
    name = "audits"

    def ready(self) -> None:
        from django.conf import settings

        from .engine.profile import set_exact_values_max
        from .services.relabel_results import estimate_refresh_on_labels

        # The engine has no settings of its own: how far exact drift reaches is set here, once.
        set_exact_values_max(settings.KEEL_EXACT_DRIFT_MAX_VALUES)
        estimate_refresh_on_labels()
