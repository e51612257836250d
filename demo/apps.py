from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo scenario: its management command seeds Keel through every app's services. No app
    imports it."""

    name = "demo"
    verbose_name = "Keel demo"
