"""The MedMij lists: Zorgaanbiederslijst (ZAL), OAuth Client List (OCL), Whitelist,
Gegevensdienstnamenlijst (GNL) and Zorgaanbiederskoppellijst (ZAKL).

Public API (see docs/lists.md):

- :func:`load_list` / :func:`load_document`: read a list safely (file, URL or bytes);
- :func:`check_lists`: schema (LIST-XSD-*), semantic (LIST-SEM-*) and serving (LIST-HTTP-01) checks;
- :func:`resolve_endpoints`: a ZAL lookup as a PGO does it;
- :class:`Whitelist`: ``allows(url)``;
- :func:`build_lists`: the reference DVA's own lists, with fault variants.
"""

from validatiestraat.lists.build import LIST_PATHS, build_lists, list_for_path, write_lists
from validatiestraat.lists.checks import CheckOptions, Finding, ListDocument, ListReport, check_lists, load_document
from validatiestraat.lists.fetch import FetchOptions, load_list, load_list_async
from validatiestraat.lists.resolve import (
    TARGET_LISTS_SCHEMA,
    ListResolutionError,
    ResolvedLists,
    Whitelist,
    resolve_endpoints,
    resolve_target_lists,
)
from validatiestraat.lists.xmlsafe import ListReadError

__all__ = [
    "LIST_PATHS", "build_lists", "list_for_path", "write_lists",
    "CheckOptions", "Finding", "ListDocument", "ListReport", "check_lists", "load_document",
    "FetchOptions", "load_list", "load_list_async",
    "TARGET_LISTS_SCHEMA", "ListResolutionError", "ResolvedLists", "Whitelist", "resolve_endpoints",
    "resolve_target_lists", "ListReadError",
]
