"""Plain helpers for the lead tests: labellers working through a campaign's queue with given answers."""

from audits import services


def work(campaign, labeller, labels, seconds=None):
    """The labeller takes their next items and answers them with `labels` in turn; returns the items."""
    items = []
    for index, label in enumerate(labels):
        assignment = services.item_next(labeller=labeller, campaign=campaign)
        assert assignment is not None, f"{labeller} ran out of items after {index}"
        took = None if seconds is None else seconds[index]
        services.answer_submit(labeller=labeller, item=assignment.item, label=label, seconds=took)
        items.append(assignment.item)
    return items
