"""Every route of the URL conf and the HTTP methods it serves, read from the views themselves (DRF's
handlers, a class-based view's handlers, the `require_http_methods` list of a function view)."""

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

# The admin site is one row: every admin page goes through AdminSite.admin_view (staff only), and
# none of the six actors is staff; walking its hundreds of model pages would test Django, not Keel.
ADMIN_NAMESPACE = "admin"
IGNORED_METHODS = {"head", "options", "trace"}


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name"
    pattern: URLPattern
    methods: tuple[str, ...]
    admin_prefix: str = ""


def view_methods(callback) -> tuple[str, ...]:
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is not None:
        names = [m for m in view_class.http_method_names if m not in IGNORED_METHODS and hasattr(view_class, m)]
        return tuple(m.upper() for m in names)
    func = callback
    while func is not None:
        code = getattr(func, "__code__", None)
        if code is not None and "request_method_list" in code.co_freevars:
            cell = func.__closure__[code.co_freevars.index("request_method_list")]
            return tuple(m for m in cell.cell_contents if m.lower() not in IGNORED_METHODS)
        func = getattr(func, "__wrapped__", None)
    raise AssertionError(f"{callback!r} declares no HTTP methods: decorate it with require_http_methods")


def routes(resolver=None, namespace: str = "", prefix: str = "") -> list[Route]:
    resolver = resolver or get_resolver()
    found = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(filter(None, [namespace, entry.namespace]))
            if entry.namespace == ADMIN_NAMESPACE:
                found.append(Route(f"{ADMIN_NAMESPACE}:*", None, ("GET",), prefix + str(entry.pattern)))
                continue
            found.extend(routes(entry, inner, prefix + str(entry.pattern)))
        elif isinstance(entry, URLPattern):
            name = ":".join(filter(None, [namespace, entry.name]))
            found.append(Route(name, entry, view_methods(entry.callback)))
    return found
