from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "support"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save
        from rest_framework.authtoken.models import Token

        from audits import services as audit_services

        from .lists import auth
        from .selectors import prediction_reasons

        # A revoked (deleted) token or a deactivated user stops reading the serving lists at once.
        post_delete.connect(auth.forget_deleted_token, sender=Token, dispatch_uid="support-forget-token")
        post_save.connect(
            auth.forget_deactivated_users_token, sender=get_user_model(), dispatch_uid="support-forget-user-token"
        )
        # A labeller's card (audits) shows the top reasons of a stored explanation of its prediction;
        # audits cannot import support, so support offers them.
        audit_services.register_reason_provider(prediction_reasons)
