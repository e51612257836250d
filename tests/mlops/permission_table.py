"""Who may call what: one row per (URL name, HTTP method) of the URL conf, naming the actors allowed.

Everyone not named is denied: 401/403 from the API, a redirect to a login page or a 403 from a page.
"Allowed" means any other answer (200, 201, 302 elsewhere, 400 for the empty body the matrix sends,
404, 409…): the role passed. The README's Roles table says the same in words.

Pipelines call with their token, which pages do not accept: on pages a pipeline is anonymous.
"""

ANONYMOUS, PIPELINE, REVIEWER, AGENT, LABELLER, OUTSIDER = ACTORS = (
    "anonymous",
    "pipeline",
    "reviewer",
    "agent",
    "labeller",
    "outsider",
)

EVERYONE = frozenset(ACTORS)
NOBODY = frozenset()
MEMBERS = frozenset({PIPELINE, REVIEWER, AGENT, LABELLER})  # every Keel role, through the API
PEOPLE = frozenset({REVIEWER, AGENT, LABELLER})  # every Keel role on the pages
SIGNED_IN = frozenset({REVIEWER, AGENT, LABELLER, OUTSIDER})
PRODUCERS = frozenset({PIPELINE})  # the training commit log: versions, runs, artifacts, hold-outs
MAKERS_AND_JUDGES = frozenset({PIPELINE, REVIEWER})  # promotions and audits
JUDGES = frozenset({REVIEWER})
SUBMITTER = frozenset({PIPELINE})
LIST_READERS = frozenset({PIPELINE, REVIEWER, AGENT})  # the serving lists themselves
RECORD_READERS = frozenset({REVIEWER, AGENT})  # entries with notes, history, bulk, privacy requests
AGENTS = frozenset({AGENT})
EXPLAINERS = frozenset({PIPELINE, REVIEWER, AGENT})
RELABEL_READERS = frozenset({PIPELINE, REVIEWER, LABELLER})  # campaigns (labellers: those open for labelling)
LABELLERS = frozenset({LABELLER})
LABELLERS_AND_LEADS = frozenset({LABELLER, REVIEWER})  # the relabel list: leads look, labellers label
RESULT_READERS = frozenset({PIPELINE, REVIEWER})  # relabelling's estimates and corrected labels

TABLE: dict[tuple[str, str], frozenset] = {
    # --- the site ---
    **{("home", m): SIGNED_IN for m in ("GET", "POST", "PUT", "PATCH", "DELETE")},
    ("login", "GET"): EVERYONE,
    ("login", "POST"): EVERYONE,
    ("login", "PUT"): EVERYONE,
    ("logout", "POST"): SIGNED_IN,  # anonymous: sent to sign in first
    ("health", "GET"): EVERYONE,
    ("admin:*", "GET"): NOBODY,  # staff only; none of the actors is staff
    ("api-schema", "GET"): MEMBERS,
    ("api-docs", "GET"): MEMBERS,
    # --- registry API ---
    ("api:model-list", "GET"): MEMBERS,
    ("api:model-list", "POST"): MAKERS_AND_JUDGES,
    ("api:model-detail", "GET"): MEMBERS,
    ("api:model-detail", "PATCH"): MAKERS_AND_JUDGES,
    ("api:pickle-policy", "GET"): MEMBERS,
    ("api:pickle-policy", "POST"): JUDGES,  # pickles run code: allowing them is a reviewer's recorded call
    ("api:version-list", "GET"): MEMBERS,
    ("api:version-list", "POST"): PRODUCERS,
    ("api:version-detail", "GET"): MEMBERS,
    ("api:version-artifact", "GET"): MEMBERS,
    ("api:version-artifact", "POST"): PRODUCERS,
    ("api:version-tags", "POST"): PRODUCERS,
    ("api:alias", "GET"): MEMBERS,
    ("api:alias", "PUT"): JUDGES,
    ("api:alias-history", "GET"): MEMBERS,
    ("api:version-diff", "GET"): MEMBERS,
    ("api:holdout-list", "GET"): MAKERS_AND_JUDGES,
    ("api:holdout-list", "POST"): PRODUCERS,
    ("api:policy", "GET"): MAKERS_AND_JUDGES,
    ("api:policy", "PUT"): JUDGES,
    ("api:rollback", "GET"): MAKERS_AND_JUDGES,
    ("api:rollback", "POST"): JUDGES,
    ("api:serving", "GET"): MEMBERS,
    ("api:promotion-list", "GET"): MAKERS_AND_JUDGES,
    ("api:promotion-list", "POST"): MAKERS_AND_JUDGES,
    ("api:promotion-detail", "GET"): MAKERS_AND_JUDGES,
    ("api:promotion-approve", "POST"): JUDGES,
    ("api:promotion-reject", "POST"): JUDGES,
    # The scenario's request was submitted by the pipeline; only its submitter cancels it (a reviewer
    # rejects it instead): the service's 403, after the role (REGISTER_MODELS) passed.
    ("api:promotion-cancel", "POST"): SUBMITTER,
    ("api:experiment-list", "GET"): MEMBERS,
    ("api:experiment-list", "POST"): PRODUCERS,
    ("api:run-list", "GET"): MEMBERS,
    ("api:run-list", "POST"): PRODUCERS,
    ("api:run-detail", "GET"): MEMBERS,
    ("api:run-log", "POST"): PRODUCERS,
    ("api:run-status", "POST"): PRODUCERS,
    ("api:run-metric-history", "GET"): MEMBERS,
    # --- the MLflow-compatible API (registry/mlflow/): reads as API v1's, writes as its training log ---
    ("mlflow:server-info", "GET"): EVERYONE,  # as MLflow's server: no login, nothing secret in it
    ("mlflow:experiment-create", "POST"): PRODUCERS,
    ("mlflow:experiment-get", "GET"): MEMBERS,
    ("mlflow:experiment-get-by-name", "GET"): MEMBERS,
    ("mlflow:experiment-search", "GET"): MEMBERS,
    ("mlflow:experiment-search", "POST"): MEMBERS,  # a search is a read, whichever method
    ("mlflow:run-create", "POST"): PRODUCERS,
    ("mlflow:run-get", "GET"): MEMBERS,
    ("mlflow:run-update", "POST"): PRODUCERS,
    ("mlflow:run-delete", "POST"): PRODUCERS,
    ("mlflow:run-restore", "POST"): PRODUCERS,
    ("mlflow:run-log-batch", "POST"): PRODUCERS,
    ("mlflow:run-log-metric", "POST"): PRODUCERS,
    ("mlflow:run-log-parameter", "POST"): PRODUCERS,
    ("mlflow:run-set-tag", "POST"): PRODUCERS,
    ("mlflow:run-delete-tag", "POST"): PRODUCERS,
    ("mlflow:run-search", "POST"): MEMBERS,
    ("mlflow:metric-history", "GET"): MEMBERS,
    # The registry: models as API v1's (register_models), versions as the training log (log_training).
    # Alias and stage calls pass the role check here; which alias moves is decided inside
    # (free aliases: move_alias; governed ones: a promotion request, log_training).
    ("mlflow:registered-model-create", "POST"): MAKERS_AND_JUDGES,
    ("mlflow:registered-model-get", "GET"): MEMBERS,
    ("mlflow:registered-model-search", "GET"): MEMBERS,
    ("mlflow:registered-model-update", "PATCH"): MAKERS_AND_JUDGES,
    ("mlflow:registered-model-rename", "POST"): MAKERS_AND_JUDGES,
    ("mlflow:registered-model-delete", "DELETE"): MAKERS_AND_JUDGES,  # refused for everyone: Keel keeps history
    ("mlflow:registered-model-set-tag", "POST"): MAKERS_AND_JUDGES,
    ("mlflow:registered-model-delete-tag", "DELETE"): MAKERS_AND_JUDGES,
    ("mlflow:registered-model-alias", "GET"): MEMBERS,
    ("mlflow:registered-model-alias", "POST"): MAKERS_AND_JUDGES,
    ("mlflow:registered-model-alias", "DELETE"): MAKERS_AND_JUDGES,
    ("mlflow:latest-versions", "GET"): MEMBERS,
    ("mlflow:latest-versions", "POST"): MEMBERS,  # a read, whichever method
    ("mlflow:model-version-create", "POST"): PRODUCERS,
    ("mlflow:model-version-get", "GET"): MEMBERS,
    ("mlflow:model-version-search", "GET"): MEMBERS,
    ("mlflow:model-version-update", "PATCH"): PRODUCERS,
    ("mlflow:model-version-delete", "DELETE"): PRODUCERS,  # refused for everyone: Keel keeps history
    ("mlflow:model-version-download-uri", "GET"): MEMBERS,
    ("mlflow:model-version-set-tag", "POST"): PRODUCERS,
    ("mlflow:model-version-delete-tag", "DELETE"): PRODUCERS,
    ("mlflow:model-version-transition-stage", "POST"): MAKERS_AND_JUDGES,
    # The artifact proxy: reads for every member, writes for those who log training.
    ("mlflow:artifact-list", "GET"): MEMBERS,
    ("mlflow:artifact", "GET"): MEMBERS,
    ("mlflow:artifact", "PUT"): PRODUCERS,
    ("mlflow:artifact", "DELETE"): PRODUCERS,
    # MLflow 3 logged models (log_model) and a run's outputs: reads for members, writes as the training log.
    ("mlflow:logged-model-create", "POST"): PRODUCERS,
    ("mlflow:logged-model-search", "POST"): MEMBERS,  # a search is a read, whichever method
    ("mlflow:logged-model", "GET"): MEMBERS,
    ("mlflow:logged-model", "PATCH"): PRODUCERS,
    ("mlflow:logged-model", "DELETE"): PRODUCERS,  # hidden, never erased; refused once a version came from it
    ("mlflow:logged-model-params", "POST"): PRODUCERS,
    ("mlflow:logged-model-tags", "PATCH"): PRODUCERS,
    ("mlflow:logged-model-tag-delete", "DELETE"): PRODUCERS,
    ("mlflow:run-log-outputs", "POST"): PRODUCERS,
    ("mlflow:run-log-inputs", "POST"): PRODUCERS,
    # Any other path under /api/2.0/mlflow/ or /api/3.0/mlflow/: 404 ENDPOINT_NOT_FOUND, as MLflow answers.
    **{("mlflow-unknown:endpoint-not-found", m): EVERYONE for m in ("GET", "POST", "PUT", "PATCH", "DELETE")},
    # --- audits API ---
    ("audits-api:audit-list", "GET"): MAKERS_AND_JUDGES,
    ("audits-api:audit-list", "POST"): MAKERS_AND_JUDGES,
    ("audits-api:audit-detail", "GET"): MAKERS_AND_JUDGES,
    ("audits-api:audit-report", "GET"): MAKERS_AND_JUDGES,
    ("audits-api:alert-list", "GET"): MAKERS_AND_JUDGES,
    ("audits-api:alert-resolve", "POST"): JUDGES,  # closing an alert without a passing audit, with a reason
    # The first reference of a version; replacing one is the reviewers' (tests/audits/test_reference_rights.py).
    ("audits-api:reference", "POST"): MAKERS_AND_JUDGES,
    ("audits-api:suite", "GET"): MAKERS_AND_JUDGES,
    ("audits-api:suite", "PUT"): JUDGES,
    ("audits-api:prediction-list", "GET"): RECORD_READERS,
    ("audits-api:prediction-list", "POST"): PRODUCERS,
    ("audits-api:serving-audit", "POST"): MAKERS_AND_JUDGES,
    ("audits-api:schedule-list", "GET"): MAKERS_AND_JUDGES,
    ("audits-api:schedule-list", "POST"): JUDGES,
    ("audits-api:schedule-detail", "GET"): MAKERS_AND_JUDGES,
    ("audits-api:schedule-detail", "PATCH"): JUDGES,
    ("audits-api:schedule-detail", "DELETE"): JUDGES,
    ("audits-api:relabel-campaign-list", "GET"): RELABEL_READERS,
    ("audits-api:relabel-campaign-list", "POST"): MAKERS_AND_JUDGES,
    ("audits-api:relabel-campaign-detail", "GET"): RELABEL_READERS,
    ("audits-api:relabel-campaign-next", "POST"): LABELLERS,
    ("audits-api:relabel-item-answer", "POST"): LABELLERS,
    ("audits-api:relabel-campaign-disputes", "GET"): JUDGES,  # leads: reviewers
    ("audits-api:relabel-item-adjudicate", "POST"): JUDGES,
    ("audits-api:relabel-campaign-gold", "GET"): JUDGES,
    ("audits-api:relabel-campaign-gold", "POST"): JUDGES,
    ("audits-api:relabel-campaign-agreement", "GET"): MAKERS_AND_JUDGES,  # a result, like the estimate
    ("audits-api:relabel-campaign-labellers", "GET"): JUDGES,  # people's figures: leads only
    ("audits-api:relabel-campaign-estimate", "GET"): RESULT_READERS,
    ("audits-api:relabel-campaign-close", "POST"): MAKERS_AND_JUDGES,
    ("audits-api:relabel-campaign-labels", "GET"): RESULT_READERS,
    ("audits-api:relabel-schedule-list", "GET"): MAKERS_AND_JUDGES,
    ("audits-api:relabel-schedule-list", "POST"): MAKERS_AND_JUDGES,
    ("audits-api:relabel-schedule-detail", "GET"): MAKERS_AND_JUDGES,
    ("audits-api:relabel-schedule-detail", "PATCH"): MAKERS_AND_JUDGES,
    ("audits-api:relabel-schedule-detail", "DELETE"): MAKERS_AND_JUDGES,
    # --- support API ---
    ("support-api:lists", "GET"): LIST_READERS,
    ("support-api:surface-list", "GET"): LIST_READERS,
    ("support-api:entry-list", "GET"): RECORD_READERS,
    ("support-api:entry-detail", "GET"): RECORD_READERS,
    ("support-api:entry-lift", "POST"): AGENTS,
    ("support-api:blacklist", "POST"): AGENTS,
    ("support-api:boost", "POST"): AGENTS,
    ("support-api:entity-search", "GET"): RECORD_READERS,
    ("support-api:history", "GET"): RECORD_READERS,
    ("support-api:bulk-list", "GET"): RECORD_READERS,
    ("support-api:bulk-list", "POST"): AGENTS,
    ("support-api:bulk-detail", "GET"): RECORD_READERS,
    ("support-api:bulk-confirm", "POST"): AGENTS,
    ("support-api:privacy-list", "GET"): RECORD_READERS,
    ("support-api:privacy-list", "POST"): AGENTS,
    ("support-api:privacy-detail", "GET"): RECORD_READERS,
    ("support-api:explanation-list", "POST"): EXPLAINERS,
    ("support-api:explanation-detail", "GET"): EXPLAINERS,
    ("support-api:explanation-waterfall", "GET"): EXPLAINERS,
    ("support-api:explainer-background", "GET"): EXPLAINERS,
    ("support-api:explainer-background", "PUT"): PRODUCERS,
    # --- registry pages ---
    ("registry:model-list", "GET"): PEOPLE,
    ("registry:model-detail", "GET"): PEOPLE,
    ("registry:version-diff", "GET"): PEOPLE,
    ("registry:version-detail", "GET"): PEOPLE,
    ("registry:promotion-new", "GET"): JUDGES,
    ("registry:promotion-new", "POST"): JUDGES,
    ("registry:model-rollback", "POST"): JUDGES,
    ("registry:model-policy", "GET"): JUDGES,
    ("registry:model-policy", "POST"): JUDGES,
    ("registry:model-pickle-policy", "POST"): JUDGES,
    ("promotions:queue", "GET"): JUDGES,
    ("promotions:detail", "GET"): JUDGES,
    ("promotions:approve", "POST"): JUDGES,
    ("promotions:reject", "POST"): JUDGES,
    ("promotions:cancel", "POST"): NOBODY,  # the submitter (a pipeline) uses the API, not pages
    ("promotions:plot", "GET"): JUDGES,
    # --- audit pages ---
    ("audits:list", "GET"): JUDGES,
    ("audits:new", "GET"): JUDGES,
    ("audits:new", "POST"): JUDGES,
    ("audits:detail", "GET"): JUDGES,
    ("audits:alert-resolve", "POST"): JUDGES,
    ("audits:plot-nulls", "GET"): JUDGES,
    ("audits:plot-column", "GET"): JUDGES,
    ("audits:suite", "GET"): JUDGES,
    ("audits:suite", "POST"): JUDGES,
    ("audits:schedules", "GET"): JUDGES,
    ("audits:schedules", "POST"): JUDGES,
    ("audits:schedule", "GET"): JUDGES,
    ("audits:schedule", "POST"): JUDGES,
    # --- relabelling pages ---
    ("relabel:list", "GET"): LABELLERS_AND_LEADS,
    ("relabel:label", "GET"): LABELLERS,
    ("relabel:label", "POST"): LABELLERS,
    ("relabel:lead-adjudicate", "GET"): JUDGES,  # leads: reviewers
    ("relabel:lead-adjudicate", "POST"): JUDGES,
    ("relabel:lead-gold", "GET"): JUDGES,
    ("relabel:lead-gold", "POST"): JUDGES,
    ("relabel:lead-team", "GET"): JUDGES,
    ("relabel:campaign", "GET"): frozenset({REVIEWER, LABELLER}),  # labellers: sent on to the labelling card
    ("relabel:campaign-trend", "GET"): JUDGES,
    ("relabel:campaign-close", "POST"): JUDGES,
    # --- support pages ---
    ("support:home", "GET"): RECORD_READERS,
    ("support:search", "GET"): RECORD_READERS,
    ("support:history", "GET"): RECORD_READERS,
    ("support:entry-lift", "POST"): AGENTS,
    ("support:blacklist", "GET"): AGENTS,
    ("support:blacklist", "POST"): AGENTS,
    ("support:boost", "GET"): AGENTS,
    ("support:boost", "POST"): AGENTS,
    ("support:bulk", "GET"): AGENTS,
    ("support:bulk", "POST"): AGENTS,
    ("support:bulk-detail", "GET"): RECORD_READERS,
    ("support:bulk-confirm", "POST"): AGENTS,
    ("support:privacy", "GET"): AGENTS,
    ("support:privacy", "POST"): AGENTS,
    ("support:explain", "GET"): RECORD_READERS,
    ("support:explain", "POST"): RECORD_READERS,
    ("support:explanation", "GET"): RECORD_READERS,
    ("support:explanation-waterfall", "GET"): RECORD_READERS,
}
