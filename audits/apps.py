from django.apps import AppConfig


class AuditsConfig(AppConfig):
    name = "audits"

    def ready(self) -> None:
        from .services.relabel_results import estimate_refresh_on_labels

        estimate_refresh_on_labels()
