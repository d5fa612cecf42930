"""The catalogue of record categories and types (datatypes).

A record type is written ``<category>.<name>``; grants (grant API issue) name the same codes,
so a service asks for ``health.medication`` and gets exactly that. Every category has an
``other`` type for what the catalogue does not list yet. Labels are what residents read:
Dutch first (B1), English second. The catalogue is documented in docs/catalogue.md, which a
test keeps in step with this module.
"""

from __future__ import annotations

from dataclasses import dataclass

from vault.errors import UnknownCategory, UnknownRecordType


@dataclass(frozen=True, slots=True)
class Label:
    nl: str
    en: str


CATEGORIES: dict[str, Label] = {
    "identity": Label("Identiteit", "Identity"),
    "health": Label("Gezondheid", "Health"),
    "care": Label("Zorg en ondersteuning", "Care and support"),
    "youth": Label("Jeugd", "Youth"),
    "education": Label("Onderwijs", "Education"),
    "income": Label("Inkomen", "Income"),
    "housing": Label("Wonen", "Housing"),
    "debts": Label("Schulden", "Debts"),
    "documents": Label("Documenten", "Documents"),
    "other": Label("Overig", "Other"),
}

TYPES: dict[str, Label] = {
    "identity.personal_details": Label("Persoonsgegevens", "Personal details"),
    "identity.id_document": Label("Identiteitsbewijs", "Identity document"),
    "identity.other": Label("Overig over identiteit", "Other identity data"),
    "health.medication": Label("Medicatieoverzicht", "Medication overview"),
    "health.allergies": Label("Allergieën", "Allergies"),
    "health.diagnosis": Label("Diagnose", "Diagnosis"),
    "health.treatment_plan": Label("Behandelplan", "Treatment plan"),
    "health.other": Label("Overig over gezondheid", "Other health data"),
    "care.care_plan": Label("Zorgplan", "Care plan"),
    "care.indication": Label("Indicatie", "Care assessment"),
    "care.home_care": Label("Thuiszorg", "Home care"),
    "care.other": Label("Overig over zorg", "Other care data"),
    "youth.support_plan": Label("Ondersteuningsplan", "Support plan"),
    "youth.other": Label("Overig over jeugd", "Other youth data"),
    "education.grades": Label("Cijfers", "Grades"),
    "education.enrolment": Label("Inschrijving", "Enrolment"),
    "education.diploma": Label("Diploma", "Diploma"),
    "education.other": Label("Overig over onderwijs", "Other education data"),
    "income.payslip": Label("Loonstrook", "Payslip"),
    "income.benefits": Label("Uitkering", "Benefits"),
    "income.tax_return": Label("Belastingaangifte", "Tax return"),
    "income.other": Label("Overig over inkomen", "Other income data"),
    "housing.rental_contract": Label("Huurcontract", "Rental contract"),
    "housing.address": Label("Adres", "Address"),
    "housing.other": Label("Overig over wonen", "Other housing data"),
    "debts.overview": Label("Schuldenoverzicht", "Debt overview"),
    "debts.payment_plan": Label("Betalingsregeling", "Payment plan"),
    "debts.other": Label("Overig over schulden", "Other debt data"),
    "documents.letter": Label("Brief", "Letter"),
    "documents.other": Label("Overig document", "Other document"),
    "other.other": Label("Overig", "Other"),
}


def check_type(category: str, record_type: str) -> None:
    """Raise unless `record_type` is a catalogued type of `category`."""
    if category not in CATEGORIES:
        raise UnknownCategory(
            f"unknown category {category!r}; known: {', '.join(sorted(CATEGORIES))}"
        )
    if record_type not in TYPES or record_type.split(".", 1)[0] != category:
        known = sorted(t for t in TYPES if t.startswith(category + "."))
        raise UnknownRecordType(
            f"unknown type {record_type!r} for category {category!r}; known: {', '.join(known)}"
        )
