"""Word lists the generator draws from: parties, line descriptions, subjects.

Non-ASCII names are deliberate: connectors must carry them through untouched.
"""

from __future__ import annotations

# name, VAT number, IBAN, currency, invoice-number prefix, number style ("eu"/"us"/"jp")
SUPPLIERS: tuple[tuple[str, str, str, str, str, str], ...] = (
    (
        "Société Générale Services",
        "FR40303265045",
        "FR7630003035409876543210925",
        "EUR",
        "SGS",
        "eu",
    ),
    ("Müller GmbH", "DE136695976", "DE89370400440532013000", "EUR", "MUE", "eu"),
    ("東京商事株式会社", "JP1234567890123", "JP0012345678901234", "JPY", "TKS", "jp"),
    ("Brasserie De Koninck NV", "BE0403879444", "BE71096123456769", "EUR", "BDK", "eu"),
    ("Acme Office Supplies Ltd", "GB123456789", "GB29NWBK60161331926819", "GBP", "ACM", "us"),
    ("Þórsson & Dóttir ehf.", "IS123456", "IS140159260076545510730339", "EUR", "THD", "eu"),
    ("Café Crème SARL ☕", "FR83404833048", "FR1420041010050500013M02606", "EUR", "CCR", "eu"),
    ("Nordic Cloud AB", "SE556677889901", "SE4550000000058398257466", "EUR", "NCL", "eu"),
    ("Zürcher Druck AG", "CHE123456789", "CH9300762011623852957", "EUR", "ZDR", "eu"),
    (
        "Łódź Logistics Sp. z o.o.",
        "PL5260250995",
        "PL61109010140000071219812874",
        "EUR",
        "LDL",
        "eu",
    ),
    ("Van den Broeck & Zonen BV", "NL859119393B01", "NL91ABNA0417164300", "EUR", "VDB", "eu"),
    ("Pacific Widgets Inc.", "US123456789", "US64SVBKUS6S3300958879", "USD", "PWI", "us"),
)

# name, VAT number
CUSTOMERS: tuple[tuple[str, str], ...] = (
    ("Contract.fit Demo NV", "BE0671516647"),
    ("Ölwerke Nord GmbH", "DE811569869"),
    ("Hôtel Saint-Sébastien", "FR55552081317"),
    ("Gemeente Gent", "BE0207451227"),
    ("大阪物流株式会社", "JP9876543210987"),
    ("Björk & Co 🚀", "SE556012345601"),
)

LINE_DESCRIPTIONS: tuple[str, ...] = (
    "Consulting services",
    "Licence annuelle logiciel",
    "Büromaterial",
    "Cloud hosting (monthly)",
    "Transport Gent → Köln",
    "Onderhoud installatie",
    "Translation EN→日本語",
    "Catering réunion",
    'Hardware: laptop 14"',
    "Support contract Q1",
    "Papier A4, 80 g/m²",
    "Training session ½ day",
)

EMAIL_SUBJECTS: tuple[str, ...] = (
    "Invoice {n}",
    "Facture {n}",
    "Rechnung {n}",
    "Factuur {n}",
    "請求書 {n}",
    "Fwd: invoice {n} 📎",
    "Reminder: unpaid invoice {n}",
)

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

OCR_CONFUSIONS: dict[str, str] = {
    "0": "O",
    "O": "0",
    "1": "l",
    "l": "1",
    "5": "S",
    "S": "5",
    "8": "B",
    "B": "8",
    "2": "Z",
    "Z": "2",
    "6": "G",
    "G": "6",
    "e": "c",
    "c": "e",
    "a": "o",
    "o": "a",
}
