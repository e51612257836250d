"""Display filters shared by Keel's pages, and the decorators the apps' own template helpers use
for what every page does alike: a missing value shows as a dash, a nav badge counts only for Keel
members."""

from datetime import timedelta
from functools import wraps

from django import template
from django.template.base import token_kwargs
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from mlops.roles import USE_KEEL

register = template.Library()

DASH = "—"


def missing_as_dash(display):
    """For a display filter: a missing value (None) shows as a dash; anything else goes to `display`."""

    @wraps(display)
    def shown(value, *args):
        return DASH if value is None else display(value, *args)

    return shown


def for_keel_members(count):
    """For a nav badge's count tag (`takes_context=True`): 0 unless the page's user is a Keel member,
    so the count's query runs only for them."""

    @wraps(count)
    def counted(context, *args):
        user = context.get("user")
        if user is None or not user.has_perm(USE_KEEL):
            return 0
        return count(context, *args)

    return counted


@register.filter
def age(value) -> str:
    """'3 days ago': one unit is enough to judge how stale a model is (timesince would add hours)."""
    if not value:
        return "never"
    if timezone.now() - value < timedelta(minutes=1):
        return "just now"
    return f"{timesince(value, depth=1)} ago"


@register.filter(expects_localtime=True)
@missing_as_dash
def when(value) -> str:
    """A moment as every page shows one: '2026-12-06 14:50 UTC', in the active time zone, named."""
    return date_format(value, "Y-m-d H:i T")


@register.filter
@missing_as_dash
def config_value(value) -> str:
    """One config cell: missing values are a dash, floats lose float noise, booleans read as words."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


class TableCardNode(template.Node):
    def __init__(self, attrs, head, rows):
        self.attrs, self.head, self.rows = attrs, head, rows

    def render(self, context):
        attrs = {name: value.resolve(context) for name, value in self.attrs.items()}
        css = " ".join(filter(None, ["data", attrs.pop("class", "")]))
        extra = format_html_join("", ' {}="{}"', ((name.replace("_", "-"), value) for name, value in attrs.items()))
        return format_html(
            '<div class="table-wrap card">\n<table class="{}"{}>{}<tbody>{}</tbody></table>\n</div>',
            css,
            extra,
            self.head.render(context),
            self.rows.render(context),
        )


@register.tag
def table_card(parser, token):
    """A data table in a card, the shape most of Keel's pages list things in:

        {% table_card class="audits" id="audit-table" %}
          <thead>…</thead>
        {% table_rows %}
          {% for job in jobs %}<tr>…</tr>{% endfor %}
        {% end_table_card %}

    renders `<div class="table-wrap card"><table class="data audits" id="audit-table">` with the
    head, then the rows inside `<tbody>`. An attribute's `_` is written `-` (`data_column=…`)."""
    bits = token.split_contents()
    attrs = token_kwargs(bits[1:], parser)
    if len(attrs) != len(bits) - 1:
        raise template.TemplateSyntaxError(f"{bits[0]} takes only name=value attributes")
    head = parser.parse(("table_rows",))
    parser.delete_first_token()
    rows = parser.parse(("end_table_card",))
    parser.delete_first_token()
    return TableCardNode(attrs, head, rows)
