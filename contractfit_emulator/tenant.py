"""Fixed tenant of the emulator: default credentials, field schema, users, roles, formats.

These constants are public so that the connector's tests can log in without reading
the emulator's output; they never change between runs or seeds.
"""

from __future__ import annotations

from dataclasses import dataclass

ADMIN_USERNAME = "demo@contract.fit"
ADMIN_PASSWORD = "demo-password"
ADMIN_API_KEY = "cf_demo_key_0123456789abcdef0123456789abcdef"

VIEWER_USERNAME = "viewer@contract.fit"
VIEWER_PASSWORD = "viewer-password"
VIEWER_API_KEY = "cf_viewer_key_0123456789abcdef0123456789ab"

API_VERSION = "4.12.0"
PERMISSION_DENIED = "Permission insufficient"


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One annotation field of the invoice schema."""

    name: str
    type: str  # LabelModel.type: string, date, float, boolean, alphanumeric
    mandatory: bool = False
    multiple: bool = False


FIELDS: tuple[FieldDef, ...] = (
    FieldDef("invoice_number", "alphanumeric", mandatory=True),
    FieldDef("invoice_date", "date", mandatory=True),
    FieldDef("due_date", "date"),
    FieldDef("supplier_name", "string", mandatory=True),
    FieldDef("supplier_vat", "alphanumeric"),
    FieldDef("customer_name", "string"),
    FieldDef("customer_vat", "alphanumeric"),
    FieldDef("iban", "alphanumeric"),
    FieldDef("currency", "string"),
    FieldDef("net_amount", "float"),
    FieldDef("vat_rate", "float", multiple=True),
    FieldDef("vat_amount", "float"),
    FieldDef("gross_amount", "float", mandatory=True),
    FieldDef("PO_number", "alphanumeric"),
    FieldDef("payment_reference", "alphanumeric"),
    FieldDef("reverse_charge", "boolean"),
)
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
MANDATORY_FIELDS: frozenset[str] = frozenset(f.name for f in FIELDS if f.mandatory)

LINE_TABLE = "line_items"
LINE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("description", "string"),
    ("quantity", "float"),
    ("unit_price", "float"),
    ("amount", "float"),
    ("vat_rate", "float"),
)

PERMISSIONS: tuple[str, ...] = (
    "create_dropbox_user",
    "create_inbox",
    "create_webhook",
    "de_escalate_document",
    "delete_tenant",
    "delete_webhook",
    "edit_backend_settings",
    "edit_beats",
    "edit_dashboard_settings",
    "edit_data_retention_settings",
    "edit_flow_settings",
    "edit_format_settings",
    "edit_integration_settings",
    "edit_integrations",
    "edit_predictor_settings",
    "edit_reports",
    "edit_retention_settings",
    "edit_review_settings",
    "edit_roles",
    "edit_sampling_settings",
    "edit_security_settings",
    "edit_templates",
    "edit_thresholds_settings",
    "edit_translations",
    "edit_users",
    "escalate_document",
    "never_twice",
    "pick_next_escalated",
    "read_beats",
    "read_data_retention_settings",
    "read_feedback",
    "read_integrations",
    "read_release_notes",
    "read_reports",
    "read_thresholds_settings",
    "read_webhook",
    "reject_document",
    "release_lock",
    "review",
    "submit",
    "update_webhook",
    "upload",
    "versions",
    "view_api_keys",
    "view_list",
    "view_projects",
    "view_statistics",
    "view_templates",
    "write_feedback",
    "write_release_notes",
)

# role key -> (display name, granted permissions)
ROLE_DEFS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("admin", "Administrator", frozenset(PERMISSIONS)),
    (
        "reviewer",
        "Reviewer",
        frozenset(
            {
                "review",
                "submit",
                "view_list",
                "escalate_document",
                "reject_document",
                "release_lock",
                "versions",
                "read_feedback",
                "write_feedback",
                "upload",
            }
        ),
    ),
    (
        "viewer",
        "Viewer",
        frozenset(
            {
                "view_list",
                "review",
                "versions",
                "view_statistics",
                "view_projects",
                "read_reports",
                "read_feedback",
            }
        ),
    ),
)

# Reviewers appear as `by` of human versions; they have no password and cannot log in.
REVIEWERS: tuple[str, ...] = (
    "anna.peeters@contract.fit",
    "jonas.müller@contract.fit",
    "sofia.garcía@contract.fit",
    "yuki.tanaka@contract.fit",
)

PROJECT_NAMES: tuple[str, ...] = ("Accounts Payable", "Expense Claims")
INBOX_NAMES: tuple[str, ...] = (
    "Invoices BE",
    "Invoices NL",
    "Factures FR",
    "Rechnungen DE",
    "Invoices UK",
    "請求書 JP",
)
# Flagging threshold (confidence below it is flagged), per inbox position (cycled).
INBOX_THRESHOLDS: tuple[int, ...] = (70, 75, 65, 80, 70, 72)

FORMAT_DEFS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Invoice (generic)", ("invoice", "credit_note")),
    ("Invoice (Benelux)", ("invoice", "credit_note")),
    ("Credit note", ("credit_note",)),
)
