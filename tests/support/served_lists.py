"""Reading the serving lists as a serving system does: the groups expanded to one row per ID."""


def expand(groups: list[dict]) -> list[dict]:
    """[{entity_type, expires_at, (weight,) entity_ids: [...]}, ...] -> one dict per ID, in order."""
    return [{**{key: value for key, value in group.items() if key != "entity_ids"}, "entity_id": entity_id}
            for group in groups for entity_id in group["entity_ids"]]


def ids(groups: list[dict]) -> set[str]:
    return {entity_id for group in groups for entity_id in group["entity_ids"]}
