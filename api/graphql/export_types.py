"""GraphQL's export types, derived from the one definition (`api.exports`): an export and its
link, and the domain's enums under names of their own in the schema."""

from __future__ import annotations

import strawberry

from api.exports import ExportLinkPublic, ExportPublic
from api.graphql.derive import part_type
from write_side.exports import ExportFormat, ExportKind, ExportStatus

strawberry.enum(ExportKind, name="ExportKind")
strawberry.enum(ExportFormat, name="ExportFormat")
strawberry.enum(ExportStatus, name="ExportStatus")
part_type(ExportLinkPublic, "ExportLink")
part_type(ExportPublic, "Export")
