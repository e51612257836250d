"""Who may do what. Roles are Django groups; each holds Django permissions, checked per action.

Admins may re-assign permissions to groups in the Django admin; `sync_role_groups` only adds the
defaults below, it never removes what an admin granted.
"""

from django.contrib.auth.models import Group, Permission
from rest_framework.permissions import BasePermission

REVIEWERS = "reviewers"
SUPPORT_AGENTS = "support-agents"
LABELLERS = "labellers"
PIPELINES = "pipelines"

USE_KEEL = "mlops.use_keel"
# Reviewers judge, pipelines produce. Registering a model (its name, task and description) and asking
# for a promotion (or a rollback) are both roles' rights; the training commit log (versions, runs,
# their params, metrics, tags and status, artifacts, hold-outs, explainer backgrounds) is the
# pipelines' alone, so the evidence a reviewer judges was not written by the reviewer.
REGISTER_MODELS = "registry.register_models"
LOG_TRAINING = "registry.log_training"
# Promotions (requests, hold-outs, policies) and audits (jobs, reports, alerts, suites, schedules) are
# read by those who make or judge them: reviewers and pipelines, not labellers or support agents.
VIEW_PROMOTIONS = "registry.view_promotions"
VIEW_AUDITS = "audits.view_audits"
MOVE_ALIAS = "registry.move_alias"
# Pickle artifacts run code when loaded: whether a model may hold them is a reviewer's recorded call.
ALLOW_PICKLES = "registry.allow_pickle_artifacts"
APPROVE_PROMOTION = "registry.approve_promotion"
RUN_AUDITS = "audits.run_audits"
# What a model's data is checked against (its audit suite and schedules, and replacing a version's
# training reference once it has one): reviewers only, so a pipeline cannot weaken the checks on the
# data it sends. A pipeline builds the first reference of a new version (RUN_AUDITS).
EDIT_AUDIT_CHECKS = "audits.edit_audit_checks"
# An alert closes when a later audit of its feed passes; closing one by hand (a retired feed, a rule
# since changed) is a reviewer's recorded call, with a reason.
RESOLVE_ALERTS = "audits.resolve_alerts"
# Serving systems send their logs; people who explain decisions read them (they hold personal data).
LOG_PREDICTIONS = "audits.log_predictions"
VIEW_PREDICTIONS = "audits.view_predictionlog"

ROLE_PERMISSIONS: dict[str, list[str]] = {
    REVIEWERS: [
        USE_KEEL,
        REGISTER_MODELS,
        VIEW_PROMOTIONS,
        MOVE_ALIAS,
        APPROVE_PROMOTION,
        ALLOW_PICKLES,
        VIEW_AUDITS,
        RUN_AUDITS,
        EDIT_AUDIT_CHECKS,
        RESOLVE_ALERTS,
        VIEW_PREDICTIONS,
    ],
    SUPPORT_AGENTS: [USE_KEEL, VIEW_PREDICTIONS],
    LABELLERS: [USE_KEEL],
    PIPELINES: [USE_KEEL, REGISTER_MODELS, LOG_TRAINING, VIEW_PROMOTIONS, VIEW_AUDITS, RUN_AUDITS, LOG_PREDICTIONS],
}

# Support lists (support/). Agents change them; serving pipelines only read them; reviewers may look
# at them and their history but not change them: what customers see is the agents' call, made
# through the agents' guard rails (rate limit, confirmations, conflicts). Labellers get neither.
READ_LISTS = "support.read_lists"
MANAGE_LISTS = "support.manage_lists"
ROLE_PERMISSIONS[SUPPORT_AGENTS] += [READ_LISTS, MANAGE_LISTS]
ROLE_PERMISSIONS[PIPELINES] += [READ_LISTS]
ROLE_PERMISSIONS[REVIEWERS] += [READ_LISTS]
# The agents' records behind the lists: entries with their notes, an ID's history, bulk uploads and
# privacy requests (customer IDs, agents' notes). Serving pipelines poll the lists and need none of it.
READ_LIST_RECORDS = "support.read_list_records"
ROLE_PERMISSIONS[SUPPORT_AGENTS] += [READ_LIST_RECORDS]
ROLE_PERMISSIONS[REVIEWERS] += [READ_LIST_RECORDS]

# Explanations (support.services.explanations): why the production model scored an input as it did. Reads
# customers' logged features, so not for labellers; pipelines ask through the API for other tools.
EXPLAIN_DECISIONS = "support.explain_decisions"
ROLE_PERMISSIONS[SUPPORT_AGENTS] += [EXPLAIN_DECISIONS]
ROLE_PERMISSIONS[REVIEWERS] += [EXPLAIN_DECISIONS]
ROLE_PERMISSIONS[PIPELINES] += [EXPLAIN_DECISIONS]

# Human relabelling (audits.services.relabel). Reviewers lead campaigns (create them, read every
# campaign); pipelines create them and read their progress; labellers take items and answer them, and
# read the campaigns open for labelling. Support agents and outsiders have no part in it.
VIEW_RELABEL_CAMPAIGNS = "audits.view_relabel_campaigns"
CREATE_RELABEL_CAMPAIGNS = "audits.create_relabel_campaigns"
LABEL_ITEMS = "audits.label_items"
LEAD_RELABELLING = "audits.lead_relabelling"
# Estimates, error patterns and corrected labels: what pipelines and leads act on, not labellers.
VIEW_RELABEL_RESULTS = "audits.view_relabel_results"
ROLE_PERMISSIONS[REVIEWERS] += [VIEW_RELABEL_CAMPAIGNS, CREATE_RELABEL_CAMPAIGNS, LEAD_RELABELLING]
ROLE_PERMISSIONS[PIPELINES] += [VIEW_RELABEL_CAMPAIGNS, CREATE_RELABEL_CAMPAIGNS]
ROLE_PERMISSIONS[LABELLERS] += [VIEW_RELABEL_CAMPAIGNS, LABEL_ITEMS]
ROLE_PERMISSIONS[REVIEWERS] += [VIEW_RELABEL_RESULTS]
ROLE_PERMISSIONS[PIPELINES] += [VIEW_RELABEL_RESULTS]


def sync_role_groups(**kwargs) -> None:
    for group_name, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        for dotted in perms:
            app_label, codename = dotted.split(".")
            perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            # post_migrate runs once per app; a permission of a later app appears on a later pass.
            if perm is not None:
                group.permissions.add(perm)


class ActionPermission(BasePermission):
    """Requires the Django permission a view declares for the request's HTTP method.

    Views set `required_permissions = {"GET": USE_KEEL, "POST": REGISTER_MODELS, ...}`; a method
    without an entry is refused, so adding a method never silently opens it up.
    """

    message = "Your role does not allow this action."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        required = getattr(view, "required_permissions", {}).get(method)
        return bool(required) and user.has_perm(required)


class IsKeelMember(BasePermission):
    message = "Your account has no Keel role."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(USE_KEEL))
