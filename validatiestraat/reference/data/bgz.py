"""BgZ 3.0 (gegevensdienst 48, FHIR STU3, zib2017 profiles) data of the test persons.

The resources are generated from the compact per-person tables in :data:`PERSON_DATA` so that
codes, references and displays stay consistent. :func:`build_compartment` returns every resource
one person may see: their own resources plus the organisations, practitioners, medications and
devices those resources reference (every literal reference resolves inside the compartment).

Conventions (they mirror what the Nictiz qualification scripts assert):
- every resource has ``meta.profile`` with the zib2017 / nl-core canonical URL;
- every Coding has system and code (and a display), every CodeableConcept a display or text;
- every Reference has a display, every Identifier a system and a value;
- identifiers use local systems of the reference DVA; there is no BSN anywhere.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from validatiestraat.reference.data import PERSONS, TestPerson

Resource = dict[str, Any]

# ------------------------------------------------------------------ systems and profiles
SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ATC = "http://www.whocc.no/atc"
ICF = "http://hl7.org/fhir/sid/icf-nl"
V3_ACTCODE = "http://hl7.org/fhir/v3/ActCode"
V2_0078 = "http://hl7.org/fhir/v2/0078"
OBS_CATEGORY = "http://hl7.org/fhir/observation-category"
ORG_TYPE = "http://nictiz.nl/fhir/NamingSystem/organization-type"
MEDICATION_USE_CATEGORY = "urn:oid:2.16.840.1.113883.2.4.3.11.60.20.77.5.3"
INSURANCE_TYPE = "urn:oid:2.16.840.1.113883.2.4.3.11.60.101.5.1"
TREATMENT_PERMITTED = "urn:oid:2.16.840.1.113883.2.4.3.11.60.40.4"
LIVING_WILL_TYPE = "urn:oid:2.16.840.1.113883.2.4.3.11.60.40.4.14.1"
HOUSE_TYPE = "urn:oid:2.16.840.1.113883.2.4.3.11.60.40.4.13.1"
ROUTE = "urn:oid:2.16.840.1.113883.2.4.4.9"
GSTD_UNIT = "urn:oid:2.16.840.1.113883.2.4.4.1.900.2"
REQUEST_INTENT = "http://hl7.org/fhir/request-intent"
FORECAST_STATUS = "http://hl7.org/fhir/immunization-recommendation-status"

#: local identifier systems of the reference aanbieder (no BSN, no real registries)
PATIENT_ID_SYSTEM = "https://referentiezorgaanbieder.validatiestraat.test/fhir/NamingSystem/patientnummer"
RESOURCE_ID_SYSTEM = "https://referentiezorgaanbieder.validatiestraat.test/fhir/NamingSystem/registratie-id"
BSN_SYSTEM = "http://fhir.nl/fhir/NamingSystem/bsn"

NL = "http://fhir.nl/fhir/StructureDefinition/"
ZIB = "http://nictiz.nl/fhir/StructureDefinition/"
PROFILE = {
    "Patient": NL + "nl-core-patient",
    "Practitioner": NL + "nl-core-practitioner",
    "Organization": NL + "nl-core-organization",
    "Coverage": ZIB + "zib-Payer",
    "TreatmentDirective": ZIB + "zib-TreatmentDirective",
    "AdvanceDirective": ZIB + "zib-AdvanceDirective",
    "FunctionalOrMentalStatus": ZIB + "zib-FunctionalOrMentalStatus",
    "Problem": ZIB + "zib-Problem",
    "LivingSituation": ZIB + "zib-LivingSituation",
    "DrugUse": ZIB + "zib-DrugUse",
    "AlcoholUse": ZIB + "zib-AlcoholUse",
    "TobaccoUse": ZIB + "zib-TobaccoUse",
    "NutritionAdvice": ZIB + "zib-NutritionAdvice",
    "Alert": ZIB + "zib-Alert",
    "AllergyIntolerance": ZIB + "zib-AllergyIntolerance",
    "Product": ZIB + "zib-Product",
    "MedicationUse": ZIB + "zib-MedicationUse",
    "MedicationAgreement": ZIB + "zib-MedicationAgreement",
    "AdministrationAgreement": ZIB + "zib-AdministrationAgreement",
    "Dispense": ZIB + "zib-Dispense",
    "MedicalDevice": ZIB + "zib-MedicalDevice",
    "MedicalDeviceProduct": ZIB + "zib-MedicalDeviceProduct",
    "MedicalDeviceRequest": ZIB + "zib-MedicalDeviceRequest",
    "Vaccination": ZIB + "zib-Vaccination",
    "VaccinationRecommendation": ZIB + "zib-VaccinationRecommendation",
    "BloodPressure": ZIB + "zib-BloodPressure",
    "BodyWeight": ZIB + "zib-BodyWeight",
    "BodyHeight": ZIB + "zib-BodyHeight",
    "LabObservation": ZIB + "zib-LaboratoryTestResult-Observation",
    "Specimen": ZIB + "zib-LaboratoryTestResult-Specimen",
    "Procedure": ZIB + "zib-Procedure",
    "Encounter": ZIB + "zib-Encounter",
    "ProcedureRequest": ZIB + "zib-ProcedureRequest",
    "Appointment": ZIB + "eAfspraak-Appointment",
}

EXT_TREATMENT_PERMITTED = ZIB + "zib-TreatmentDirective-TreatmentPermitted"
EXT_TREATMENT = ZIB + "zib-TreatmentDirective-Treatment"
EXT_TREATMENT_VERIFICATION = ZIB + "zib-TreatmentDirective-Verification"
EXT_ADVANCE_DISORDER = ZIB + "zib-AdvanceDirective-Disorder"
EXT_PERIOD_OF_USE = ZIB + "zib-Medication-PeriodOfUse"
EXT_AA_AUTHORED_ON = ZIB + "zib-AdministrationAgreement-AuthoredOn"
EXT_MEDUSE_AS_AGREED = ZIB + "zib-MedicationUse-AsAgreedIndicator"
EXT_DEVICE_ORGANIZATION = ZIB + "zib-MedicalDevice-Organization"


# ------------------------------------------------------------------ small builders
def coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


def cc(system: str, code: str, display: str, text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": [coding(system, code, display)]}
    if text:
        out["text"] = text
    return out


def ref(rtype: str, rid: str, display: str) -> dict[str, str]:
    return {"reference": f"{rtype}/{rid}", "display": display}


def qty(value: float, unit: str, code: str | None = None, system: str = UCUM) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": system, "code": code or unit}


def ident(rid: str) -> dict[str, str]:
    """A stable local registration identifier derived from the resource id."""
    return {"system": RESOURCE_ID_SYSTEM, "value": str(uuid.uuid5(uuid.NAMESPACE_URL, "validatiestraat:" + rid))}


def meta(profile_key: str) -> dict[str, Any]:
    return {"profile": [PROFILE[profile_key]]}


_SINGLE_IDENTIFIER = frozenset({"Consent"})


def base(rtype: str, rid: str, profile_key: str, with_identifier: bool = True) -> Resource:
    res: Resource = {"resourceType": rtype, "id": rid, "meta": meta(profile_key)}
    if with_identifier:
        # STU3 Consent.identifier is 0..1; everywhere else it is a list
        res["identifier"] = ident(rid) if rtype in _SINGLE_IDENTIFIER else [ident(rid)]
    return res


# ------------------------------------------------------------------ shared directory data
ORGANIZATIONS: dict[str, tuple[str, tuple[str, str, str] | None]] = {
    # id: (name, organization type (system, code, display) or None)
    "org-huisartsenpraktijk": ("Huisartsenpraktijk De Teststraat", (ORG_TYPE, "Z3", "Huisartspraktijk (zelfstandig of groepspraktijk)")),
    "org-ziekenhuis": ("Referentieziekenhuis Validatiestraat", (ORG_TYPE, "V4", "Ziekenhuis")),
    "org-apotheek": ("Apotheek Validatiestraat", (ORG_TYPE, "J8", "Openbare apotheek")),
    "org-verzekeraar": ("Zorgverzekeraar Validatiestraat N.V.", None),
}

PRACTITIONERS: dict[str, tuple[str, str, str]] = {
    # id: (given, family, organization id)
    "prac-huisarts": ("Hanneke", "Huisarts", "org-huisartsenpraktijk"),
    "prac-specialist": ("Sander", "Specialist", "org-ziekenhuis"),
}

MEDICATIONS: dict[str, tuple[str, str, str]] = {
    # id: (ATC code, ATC display, product text)
    "med-metformine": ("A10BA02", "metformine", "Metformine tablet 500 mg"),
    "med-enalapril": ("C09AA02", "enalapril", "Enalapril tablet 10 mg"),
    "med-paracetamol": ("N02BE01", "paracetamol", "Paracetamol tablet 500 mg"),
    "med-salbutamol": ("R03AC02", "salbutamol", "Salbutamol inhalatiepoeder 200 µg/dosis"),
    "med-omeprazol": ("A02BC01", "omeprazol", "Omeprazol capsule maagsapresistent 20 mg"),
}


def org_display(oid: str) -> str:
    return ORGANIZATIONS[oid][0]


def prac_display(pid: str) -> str:
    given, family, _ = PRACTITIONERS[pid]
    return f"{given} {family}"


def organization(oid: str) -> Resource:
    name, otype = ORGANIZATIONS[oid]
    res = base("Organization", oid, "Organization")
    res["active"] = True
    if otype:
        res["type"] = [cc(*otype)]
    res["name"] = name
    res["telecom"] = [{"system": "phone", "value": "+31 30 000 0000", "use": "work"}]
    res["address"] = [{"use": "work", "line": ["Testlaan 1"], "city": "Teststad", "postalCode": "9999 ZZ", "country": "NL"}]
    return res


def practitioner(pid: str) -> Resource:
    given, family, _ = PRACTITIONERS[pid]
    res = base("Practitioner", pid, "Practitioner")
    res["active"] = True
    res["name"] = [{"use": "official", "text": f"{given} {family}", "family": family, "given": [given]}]
    res["telecom"] = [{"system": "phone", "value": "+31 30 000 0001", "use": "work"}]
    return res


def medication(mid: str) -> Resource:
    atc, atc_display, text = MEDICATIONS[mid]
    res = base("Medication", mid, "Product", with_identifier=False)
    res["code"] = {"coding": [coding(ATC, atc, atc_display)], "text": text}
    return res


# ------------------------------------------------------------------ per-person tables
PERSON_DATA: dict[str, dict[str, Any]] = {
    "p1": {
        "address": ("Teststraat", "1", "9999 AA", "Teststad"),
        "phone": "06-00000001",
        "conditions": [
            # (slug, SNOMED code, display, onset, clinicalStatus)
            ("hypertensie", "38341003", "Hypertensive disorder, systemic arterial (disorder)", "2015-04-01", "active"),
            ("diabetes", "44054006", "Diabetes mellitus type 2 (disorder)", "2018-09-12", "active"),
            ("uwi", "68566005", "Urinary tract infectious disease (disorder)", "2020-02-01", "resolved"),
        ],
        "treatment_directive": ("89666000", "Cardiopulmonary resuscitation (procedure)", "NEE", "Nee", "2019-05-01"),
        "advance_directive": ("NR", "Niet reanimeren verklaring", "2019-05-01", "hypertensie"),
        "functional": [
            # (slug, category code, ICF code, ICF display, value code, value display, date)
            ("lopen-2019", "118228005", "d450", "Lopen", "d450.2", "MATIGE beperking", "2019-03-01"),
            ("lopen-2023", "118228005", "d450", "Lopen", "d450.1", "LICHTE beperking", "2023-05-10"),
            ("geheugen", "384821006", "b144", "Geheugenfuncties", "b144.1", "LICHTE stoornis", "2023-05-10"),
        ],
        "living": [("2010", "FLATW", "Flatwoning", "2010-01-01"), ("2016", "EENGEZW", "Eengezinswoning", "2016-07-01")],
        "drug": ("228367002", "Does not misuse drugs (finding)"),
        "alcohol": ("219006", "Current drinker of alcohol (finding)", 7),
        "tobacco": ("8517006", "Ex-smoker (finding)", 12),
        "diet": ({"coding": [coding(SCT, "160670007", "Diabetic diet (regime/therapy)")], "text": "Diabetesdieet"}, "2018-10-01"),
        "alert": ("44054006", "Diabetes mellitus type 2 (disorder)", "2018-09-12"),
        "allergy": ("373270004", "Penicillin -class of antibiotic- (substance)", "medication", "high",
                    "271807003", "Eruption of skin (disorder)", "2004-08-15"),
        "medication_use": [("paracetamol", "med-paracetamol", "Zo nodig 1-2 tabletten, maximaal 6 per dag", "2023-01-10")],
        "medication_agreements": [
            ("metformine", "med-metformine", "2 maal per dag 1 tablet", "2018-09-15"),
            ("enalapril", "med-enalapril", "1 maal per dag 1 tablet", "2015-04-10"),
        ],
        "administration_agreements": [("metformine", "med-metformine", "2 maal per dag 1 tablet", "2018-09-16")],
        "dispenses": [("metformine", "med-metformine", 60, "2024-01-05")],
        "device_use": [("glucosemeter", "337414009", "Blood glucose meter (physical object)", "Bloedglucosemeter", "2018-10-01")],
        "device_requests": [("bloeddrukmeter", "70665002", "Blood pressure cuff, device (physical object)", "Bloeddrukmeter voor thuis", "2026-05-01")],
        "immunizations": [("griep-2023", "J07BB02", "influenza, inactivated, split virus or surface antigen", "2023-10-15")],
        "immunization_recommendations": [("griep-2025", "J07BB02", "influenza, inactivated, split virus or surface antigen", "2025-10-01")],
        "blood_pressure": [("2022", 145, 92, "2022-11-01T09:30:00+01:00"), ("2024", 132, 84, "2024-02-15T10:15:00+01:00")],
        "body_weight": [("2022", 92.0, "2022-11-01"), ("2024", 88.5, "2024-02-15")],
        "body_height": [("2022", 183, "2022-11-01", True)],
        "labs": [
            # (slug, LOINC, display, value, unit, ucum, date, high?, category, related slug)
            ("glucose-2023", "14749-6", "Glucose [Moles/volume] in Serum or Plasma", 8.1, "mmol/l", "mmol/L", "2023-05-02T08:10:00+02:00", True, "chemistry", None),
            ("glucose-2024", "14749-6", "Glucose [Moles/volume] in Serum or Plasma", 7.2, "mmol/l", "mmol/L", "2024-02-14T08:05:00+01:00", True, "chemistry", None),
            ("hba1c-2024", "59261-8", "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol", 56, "mmol/mol", "mmol/mol", "2024-02-14T08:05:00+01:00", True, "chemistry", "hb-2024"),
            ("hb-2024", "59260-0", "Hemoglobin [Moles/volume] in Blood", 9.1, "mmol/l", "mmol/L", "2024-02-14T08:05:00+01:00", False, "hematology", None),
        ],
        "specimen": ("119297000", "Blood specimen (specimen)", "2024-02-14T08:00:00+01:00"),
        "procedures": [
            ("appendectomie", "387713003", "Surgical procedure (procedure)", "80146002", "Appendectomy (procedure)", "1995-06-10"),
            ("coloscopie", "103693007", "Diagnostic procedure (procedure)", "73761001", "Colonoscopy (procedure)", "2021-03-22"),
        ],
        "encounters": [
            ("opname-1995", "IMP", "inpatient encounter", "1995-06-09", "1995-06-12", "org-ziekenhuis", "prac-specialist"),
            ("consult-2024", "AMB", "ambulatory", "2024-02-15", "2024-02-15", "org-huisartsenpraktijk", "prac-huisarts"),
        ],
        "procedure_requests": [
            ("coloscopie-2026", "active", "73761001", "Colonoscopy (procedure)", "2026-09-01"),
            ("coloscopie-2021", "completed", "73761001", "Colonoscopy (procedure)", "2021-03-22"),
        ],
        "appointments": [
            ("controle-2026", "booked", "Controle internist", "2026-06-10T09:00:00+02:00", "2026-06-10T09:15:00+02:00"),
            ("controle-2025", "cancelled", "Controle internist (geannuleerd)", "2025-06-10T09:00:00+02:00", "2025-06-10T09:15:00+02:00"),
        ],
    },
    "p2": {
        "address": ("Proeflaan", "22", "9999 BB", "Proefdorp"),
        "phone": "06-00000002",
        "conditions": [
            ("astma", "195967001", "Asthma (disorder)", "2001-06-01", "active"),
            ("reflux", "235595009", "Gastroesophageal reflux disease (disorder)", "2019-01-15", "active"),
        ],
        "treatment_directive": ("40617009", "Artificial respiration (procedure)", "JA", "Ja", "2021-02-01"),
        "advance_directive": ("DO", "Verklaring donorschap", "2021-02-01", None),
        "functional": [
            ("wassen", "118228005", "d510", "Zich wassen", "d510.0", "GEEN beperking", "2022-01-20"),
            ("energie", "384821006", "b130", "Energie- en driftfuncties", "b130.1", "LICHTE stoornis", "2022-01-20"),
        ],
        "living": [("2020", "FLATW", "Flatwoning", "2020-03-01")],
        "drug": ("228368007", "Has never misused drugs"),
        "alcohol": ("105542008", "Current non-drinker of alcohol (finding)", None),
        "tobacco": ("266919005", "Never smoked tobacco (finding)", None),
        "diet": ({"text": "Zoutarm dieet"}, "2022-02-01"),
        "alert": ("195967001", "Asthma (disorder)", "2001-06-01"),
        "allergy": ("227493005", "Cashew nut (substance)", "food", "high",
                    "39579001", "Anaphylaxis (disorder)", "2012-12-24"),
        "medication_use": [("salbutamol", "med-salbutamol", "Zo nodig 1 inhalatie", "2020-05-01")],
        "medication_agreements": [("omeprazol", "med-omeprazol", "1 maal per dag 1 capsule", "2019-01-20")],
        "administration_agreements": [("omeprazol", "med-omeprazol", "1 maal per dag 1 capsule", "2019-01-21")],
        "dispenses": [],
        "device_use": [("hoortoestel", "6012004", "Hearing aid (physical object)", "Hoortoestel", "2020-09-01")],
        "device_requests": [("rolstoel", "58938008", "Wheelchair, device (physical object)", "Rolstoel", "2026-04-01")],
        "immunizations": [("dtp-2016", "J07AM51", "tetanus toxoid, combinations with diphtheria toxoid", "2016-05-01")],
        "immunization_recommendations": [("dtp-2026", "J07AM51", "tetanus toxoid, combinations with diphtheria toxoid", "2026-05-01")],
        "blood_pressure": [("2023", 118, 76, "2023-06-01T14:00:00+02:00")],
        "body_weight": [("2023", 64.0, "2023-06-01")],
        "body_height": [("2023", 170, "2023-06-01", False)],
        "labs": [
            ("kreatinine-2023", "14682-9", "Creatinine [Moles/volume] in Serum or Plasma", 68, "umol/l", "umol/L", "2023-06-01T09:00:00+02:00", False, "chemistry", "hb-2023"),
            ("hb-2023", "59260-0", "Hemoglobin [Moles/volume] in Blood", 8.4, "mmol/l", "mmol/L", "2023-06-01T09:00:00+02:00", False, "hematology", None),
        ],
        "specimen": ("119364003", "Serum specimen (specimen)", "2023-06-01T08:50:00+02:00"),
        "procedures": [
            ("cholecystectomie", "387713003", "Surgical procedure (procedure)", "38102005", "Cholecystectomy (procedure)", "2019-03-04"),
        ],
        "encounters": [
            ("opname-2019", "ACUTE", "inpatient acute", "2019-03-03", "2019-03-06", "org-ziekenhuis", "prac-specialist"),
            ("seh-2010", "EMER", "emergency", "2010-08-16", "2010-08-16", "org-ziekenhuis", "prac-specialist"),
        ],
        "procedure_requests": [
            ("fysiotherapie", "active", "91251008", "Physical therapy procedure (regime/therapy)", "2026-05-15"),
        ],
        "appointments": [
            ("longarts-2026", "proposed", "Consult longarts", "2026-07-01T11:00:00+02:00", "2026-07-01T11:20:00+02:00"),
        ],
    },
}

# p3 (the person whose access tokens expire after a few seconds) has the same kind of record as p2:
# every BgZ query finds something, so that a fresh token of p3 reads data before it expires
PERSON_DATA["p3"] = {**PERSON_DATA["p2"], "address": ("Verloopweg", "3", "9999 CC", "Verloopstad"),
                     "phone": "06-00000003"}

LAB_CATEGORY = coding(SCT, "49581000146104", "Laboratory test finding (finding)")
LAB_SUBCATEGORY = {
    "chemistry": coding(SCT, "275711006", "Serum chemistry test (procedure)"),
    "hematology": coding(SCT, "252275004", "Haematology test (procedure)"),
}
FUNCTIONAL_CATEGORY = {
    "118228005": "Functional finding (finding)",
    "384821006": "Mental state, behavior and/or psychosocial function finding (finding)",
}
VITAL_SIGNS = {"coding": [coding(OBS_CATEGORY, "vital-signs", "Vital Signs")]}


# ------------------------------------------------------------------ the builder
def build_person_resources(person: TestPerson) -> list[Resource]:
    """All resources of one person (without the shared directory resources)."""
    d = PERSON_DATA[person.key]
    k = person.key
    me = ref("Patient", f"{k}-patient", person.display)
    out: list[Resource] = []

    def add(res: Resource) -> Resource:
        out.append(res)
        return res

    def rid(kind: str, slug: str) -> str:
        return f"{k}-{kind}-{slug}"

    # Patient -------------------------------------------------------------
    street, number, postal, city = d["address"]
    patient = add({
        "resourceType": "Patient", "id": f"{k}-patient", "meta": meta("Patient"),
        "identifier": [{"use": "usual", "system": PATIENT_ID_SYSTEM, "value": f"VS-{k.upper()}-0001"}],
        "active": True,
        "name": [{"use": "official", "text": person.display, "family": person.family, "given": [person.given]}],
        "telecom": [{"system": "phone", "value": d["phone"], "use": "mobile"}],
        "gender": person.gender,
        "birthDate": person.birth_date,
        "deceasedBoolean": False,
        "address": [{"use": "home", "line": [f"{street} {number}"], "city": city, "postalCode": postal, "country": "NL"}],
        "generalPractitioner": [ref("Practitioner", "prac-huisarts", prac_display("prac-huisarts"))],
    })
    _ = patient

    # Coverage: one with an insurer as payor, one paid by the patient -------------
    add({**base("Coverage", rid("coverage", "basis"), "Coverage"), "status": "active",
         "type": cc(INSURANCE_TYPE, "B", "Basis"),
         "subscriber": me, "beneficiary": me,
         "period": {"start": "2024-01-01", "end": "2026-12-31"},
         "payor": [ref("Organization", "org-verzekeraar", org_display("org-verzekeraar"))]})
    add({**base("Coverage", rid("coverage", "eigen"), "Coverage"), "status": "active",
         "subscriber": me, "beneficiary": me,
         "period": {"start": "2024-01-01", "end": "2026-12-31"},
         "payor": [me]})

    # Conditions ----------------------------------------------------------------
    condition_ids: dict[str, tuple[str, str]] = {}
    for slug, code, display, onset, status in d["conditions"]:
        cid = rid("condition", slug)
        condition_ids[slug] = (cid, display)
        add({**base("Condition", cid, "Problem"), "clinicalStatus": status, "verificationStatus": "confirmed",
             "category": [cc(SCT, "282291009", "Diagnosis")],
             "code": cc(SCT, code, display), "subject": me, "onsetDateTime": onset})

    # Consent: treatment directive and advance directive ----------------------------
    t_code, t_display, permitted, permitted_display, t_date = d["treatment_directive"]
    add({**base("Consent", rid("consent", "behandelgrens"), "TreatmentDirective"),
         "extension": [
             {"url": EXT_TREATMENT_VERIFICATION, "extension": [
                 {"url": "Verified", "valueBoolean": True},
                 {"url": "VerifiedWith", "valueCodeableConcept": cc(SCT, "116154003", "Patient")},
                 {"url": "VerificationDate", "valueDateTime": t_date}]},
             {"url": EXT_TREATMENT, "valueCodeableConcept": cc(SCT, t_code, t_display)}],
         "modifierExtension": [{"url": EXT_TREATMENT_PERMITTED,
                                "valueCodeableConcept": cc(TREATMENT_PERMITTED, permitted, permitted_display)}],
         "status": "active",
         "category": [cc(SCT, "11291000146105", "Treatment instructions (record artifact)")],
         "patient": me, "period": {"start": t_date},
         "policy": [{"uri": "https://wetten.overheid.nl/"}]})
    w_code, w_display, w_date, disorder = d["advance_directive"]
    advance: Resource = {**base("Consent", rid("consent", "wilsverklaring"), "AdvanceDirective"),
                         "status": "active",
                         "category": [cc(SCT, "11341000146107", "Living will and advance directive record (record artifact)"),
                                      cc(LIVING_WILL_TYPE, w_code, w_display)],
                         "patient": me, "dateTime": w_date,
                         "policy": [{"uri": "https://wetten.overheid.nl/"}]}
    if disorder:
        cid, cdisplay = condition_ids[disorder]
        advance["extension"] = [{"url": EXT_ADVANCE_DISORDER, "valueReference": ref("Condition", cid, cdisplay)}]
    add(advance)

    # Functional or mental status ---------------------------------------------------
    for slug, category, code, display, value, value_display, date in d["functional"]:
        add({**base("Observation", rid("status", slug), "FunctionalOrMentalStatus"), "status": "final",
             "category": [cc(SCT, category, FUNCTIONAL_CATEGORY[category])],
             "code": cc(ICF, code, display), "subject": me, "effectiveDateTime": date,
             "valueCodeableConcept": cc(ICF, value, value_display)})

    # Living situation, drug, alcohol and tobacco use --------------------------------
    for slug, code, display, date in d["living"]:
        add({**base("Observation", rid("woonsituatie", slug), "LivingSituation"), "status": "final",
             "code": cc(SCT, "365508006", "Finding of residence and accommodation circumstances (finding)"),
             "subject": me, "effectiveDateTime": date,
             "valueCodeableConcept": cc(HOUSE_TYPE, code, display)})
    code, display = d["drug"]
    add({**base("Observation", rid("drugsgebruik", "1"), "DrugUse"), "status": "final",
         "code": cc(SCT, "228366006", "Finding relating to drug misuse behavior (finding)"),
         "subject": me, "effectivePeriod": {"start": "2015-01-01"},
         "valueCodeableConcept": cc(SCT, code, display)})
    code, display, glasses = d["alcohol"]
    alcohol: Resource = {**base("Observation", rid("alcoholgebruik", "1"), "AlcoholUse"), "status": "final",
                         "code": cc(SCT, "228273003", "Finding relating to alcohol drinking behavior (finding)"),
                         "subject": me, "effectivePeriod": {"start": "2010-01-01"},
                         "valueCodeableConcept": cc(SCT, code, display)}
    if glasses is not None:
        alcohol["component"] = [{"code": cc(SCT, "160573003", "Alcohol intake (observable entity)"),
                                 "valueQuantity": qty(glasses, "glazen per week", "{glasses}/wk")}]
    add(alcohol)
    code, display, pack_years = d["tobacco"]
    tobacco: Resource = {**base("Observation", rid("tabakgebruik", "1"), "TobaccoUse"), "status": "final",
                         "code": cc(SCT, "365980008", "Finding of tobacco use and exposure (finding)"),
                         "subject": me, "effectivePeriod": {"start": "1990-01-01"},
                         "valueCodeableConcept": cc(SCT, code, display)}
    if pack_years is not None:
        tobacco["component"] = [{"code": cc(SCT, "401201003", "Cigarette pack-years (observable entity)"),
                                 "valueQuantity": qty(pack_years, "pakjaren", "{PackYears}")}]
    add(tobacco)

    # Nutrition advice and alert -------------------------------------------------------
    diet, diet_date = d["diet"]
    add({**base("NutritionOrder", rid("voedingsadvies", "1"), "NutritionAdvice"), "status": "active",
         "patient": me, "dateTime": diet_date, "oralDiet": {"type": [diet]}})
    code, display, start = d["alert"]
    add({**base("Flag", rid("alert", "1"), "Alert"), "status": "active",
         "category": cc(LOINC, "75323-6", "Condition"),
         "code": cc(SCT, code, display), "subject": me, "period": {"start": start}})

    # Allergy -------------------------------------------------------------------------
    a_code, a_display, a_cat, crit, m_code, m_display, a_onset = d["allergy"]
    add({**base("AllergyIntolerance", rid("allergie", "1"), "AllergyIntolerance"),
         "clinicalStatus": "active", "verificationStatus": "confirmed", "category": [a_cat],
         "criticality": crit, "code": cc(SCT, a_code, a_display), "patient": me,
         "onsetDateTime": a_onset,
         "reaction": [{"manifestation": [cc(SCT, m_code, m_display)], "severity": "severe"}]})

    # Medication --------------------------------------------------------------------------
    def med_ref(mid: str) -> dict[str, str]:
        return ref("Medication", mid, MEDICATIONS[mid][2])

    for slug, mid, dosage, start in d["medication_use"]:
        add({**base("MedicationStatement", rid("medicatiegebruik", slug), "MedicationUse"),
             "extension": [{"url": EXT_MEDUSE_AS_AGREED, "valueBoolean": True}],
             "status": "active",
             "category": cc(MEDICATION_USE_CATEGORY, "6", "Medicatiegebruik"),
             "medicationReference": med_ref(mid), "effectivePeriod": {"start": start},
             "dateAsserted": start, "subject": me, "taken": "y",
             "dosage": [{"sequence": 1, "text": dosage}]})
    for slug, mid, dosage, start in d["medication_agreements"]:
        add({**base("MedicationRequest", rid("medicatieafspraak", slug), "MedicationAgreement"),
             "extension": [{"url": EXT_PERIOD_OF_USE, "valuePeriod": {"start": start}}],
             "intent": "order",
             "category": cc(SCT, "16076005", "Prescription (procedure)"),
             "medicationReference": med_ref(mid), "subject": me, "authoredOn": start,
             "requester": {"agent": ref("Practitioner", "prac-huisarts", prac_display("prac-huisarts"))},
             "dosageInstruction": [{"sequence": 1, "text": dosage,
                                    "route": cc(ROUTE, "9", "ORAAL")}]})
    for slug, mid, dosage, start in d["administration_agreements"]:
        add({**base("MedicationDispense", rid("toedieningsafspraak", slug), "AdministrationAgreement"),
             "extension": [{"url": EXT_AA_AUTHORED_ON, "valueDateTime": start},
                           {"url": EXT_PERIOD_OF_USE, "valuePeriod": {"start": start}}],
             "category": cc(SCT, "422037009", "Provider medication administration instructions (procedure)"),
             "medicationReference": med_ref(mid), "subject": me,
             "performer": [{"actor": ref("Organization", "org-apotheek", org_display("org-apotheek"))}],
             "dosageInstruction": [{"sequence": 1, "text": dosage, "route": cc(ROUTE, "9", "ORAAL")}]})
    for slug, mid, amount, handed in d["dispenses"]:
        add({**base("MedicationDispense", rid("verstrekking", slug), "Dispense"),
             "category": cc(SCT, "373784005", "Dispensing medication (procedure)"),
             "medicationReference": med_ref(mid), "subject": me,
             "performer": [{"actor": ref("Organization", "org-apotheek", org_display("org-apotheek"))}],
             "quantity": qty(amount, "stuk", "245", GSTD_UNIT), "whenHandedOver": handed})

    # Medical devices -------------------------------------------------------------------------
    def device(slug: str, code: str, display: str, text: str) -> str:
        did = rid("device", slug)
        add({**base("Device", did, "MedicalDeviceProduct"), "status": "active",
             "type": {"coding": [coding(SCT, code, display)], "text": text}, "patient": me})
        return did

    for slug, code, display, text, start in d["device_use"]:
        did = device(slug, code, display, text)
        add({**base("DeviceUseStatement", rid("hulpmiddel", slug), "MedicalDevice"),
             "extension": [{"url": EXT_DEVICE_ORGANIZATION,
                            "valueReference": ref("Organization", "org-ziekenhuis", org_display("org-ziekenhuis"))}],
             "status": "active", "subject": me, "whenUsed": {"start": start},
             "device": ref("Device", did, text)})
    for slug, code, display, text, date in d["device_requests"]:
        did = device(slug, code, display, text)
        add({**base("DeviceRequest", rid("hulpmiddelaanvraag", slug), "MedicalDeviceRequest"), "status": "active",
             "intent": cc(REQUEST_INTENT, "order", "Order"),
             "codeReference": ref("Device", did, text), "subject": me, "occurrenceDateTime": date,
             "requester": {"agent": ref("Practitioner", "prac-huisarts", prac_display("prac-huisarts"))}})

    # Vaccinations ------------------------------------------------------------------------------
    imm_ids: list[tuple[str, str]] = []
    for slug, code, display, date in d["immunizations"]:
        iid = rid("vaccinatie", slug)
        imm_ids.append((iid, display))
        add({**base("Immunization", iid, "Vaccination"), "status": "completed", "notGiven": False,
             "vaccineCode": cc(ATC, code, display), "patient": me, "date": date, "primarySource": True,
             "practitioner": [{"actor": ref("Practitioner", "prac-huisarts", prac_display("prac-huisarts"))}]})
    for slug, code, display, date in d["immunization_recommendations"]:
        rec: dict[str, Any] = {"date": date, "vaccineCode": cc(ATC, code, display),
                               "forecastStatus": cc(FORECAST_STATUS, "due", "Due")}
        add({**base("ImmunizationRecommendation", rid("vaccinatieadvies", slug), "VaccinationRecommendation"),
             "patient": me, "recommendation": [rec]})

    # Vital signs ---------------------------------------------------------------------------------
    for slug, systolic, diastolic, when in d["blood_pressure"]:
        add({**base("Observation", rid("bloeddruk", slug), "BloodPressure"), "status": "final",
             "category": [VITAL_SIGNS],
             "code": cc(LOINC, "85354-9", "Blood pressure panel with all children optional"),
             "subject": me, "effectiveDateTime": when,
             "component": [
                 {"code": cc(LOINC, "8480-6", "Systolic blood pressure"), "valueQuantity": qty(systolic, "mmHg", "mm[Hg]")},
                 {"code": cc(LOINC, "8462-4", "Diastolic blood pressure"), "valueQuantity": qty(diastolic, "mmHg", "mm[Hg]")}]})
    for slug, kg, when in d["body_weight"]:
        add({**base("Observation", rid("gewicht", slug), "BodyWeight"), "status": "final",
             "category": [VITAL_SIGNS], "code": cc(LOINC, "29463-7", "Body weight"),
             "subject": me, "effectiveDateTime": when, "valueQuantity": qty(kg, "kg")})
    for slug, cm, when, standing in d["body_height"]:
        codings = [coding(LOINC, "8302-2", "Body height")]
        if standing:
            codings.append(coding(LOINC, "8308-9", "Body height --standing"))
        add({**base("Observation", rid("lengte", slug), "BodyHeight"), "status": "final",
             "category": [VITAL_SIGNS], "code": {"coding": codings},
             "subject": me, "effectiveDateTime": when, "valueQuantity": qty(cm, "cm")})

    # Laboratory results and specimen -------------------------------------------------------------
    s_code, s_display, s_when = d["specimen"]
    specimen_id = rid("specimen", "1")
    add({**base("Specimen", specimen_id, "Specimen"), "type": cc(SCT, s_code, s_display),
         "subject": me, "collection": {"collectedDateTime": s_when}})
    lab_rows = {row[0]: row for row in d["labs"]}
    for slug, code, display, value, unit, ucum, when, high, category, related in d["labs"]:
        obs: Resource = {**base("Observation", rid("lab", slug), "LabObservation"), "status": "final",
                         "category": [{"coding": [LAB_CATEGORY]}, {"coding": [LAB_SUBCATEGORY[category]]}],
                         "code": cc(LOINC, code, display), "subject": me, "effectiveDateTime": when,
                         "valueQuantity": qty(value, unit, ucum)}
        if high:
            obs["interpretation"] = {"coding": [coding(V2_0078, "H", "Hoog"),
                                                coding(SCT, "281302008", "Above reference range (finding)")]}
        obs["specimen"] = ref("Specimen", specimen_id, s_display)
        if related:
            obs["related"] = [{"type": "derived-from",
                               "target": ref("Observation", rid("lab", related), lab_rows[related][2])}]
        add(obs)

    # Procedures, encounters, plans ---------------------------------------------------------------
    for slug, cat, cat_display, code, display, date in d["procedures"]:
        add({**base("Procedure", rid("verrichting", slug), "Procedure"), "status": "completed",
             "category": cc(SCT, cat, cat_display), "code": cc(SCT, code, display), "subject": me,
             "performedPeriod": {"start": date, "end": date},
             "performer": [{"actor": ref("Practitioner", "prac-specialist", prac_display("prac-specialist"))}]})
    for slug, klass, klass_display, start, end, org, prac in d["encounters"]:
        add({**base("Encounter", rid("contact", slug), "Encounter"), "status": "finished",
             "class": coding(V3_ACTCODE, klass, klass_display), "subject": me,
             "participant": [{"individual": ref("Practitioner", prac, prac_display(prac))}],
             "period": {"start": start, "end": end},
             "serviceProvider": ref("Organization", org, org_display(org))})
    for slug, status, code, display, when in d["procedure_requests"]:
        add({**base("ProcedureRequest", rid("geplandeverrichting", slug), "ProcedureRequest"),
             "status": status, "intent": "plan", "code": cc(SCT, code, display), "subject": me,
             "occurrenceDateTime": when,
             "performer": ref("Organization", "org-ziekenhuis", org_display("org-ziekenhuis"))})
    for slug, status, description, start, end in d["appointments"]:
        add({**base("Appointment", rid("afspraak", slug), "Appointment"), "status": status,
             "description": description, "start": start, "end": end,
             "participant": [{"actor": me, "status": "accepted"},
                             {"actor": ref("Practitioner", "prac-specialist", prac_display("prac-specialist")),
                              "status": "accepted" if status == "booked" else "needs-action"}]})
    return out


def _referenced(resources: list[Resource]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            r = node.get("reference")
            if isinstance(r, str) and "/" in r and not r.startswith(("#", "urn:")):
                t, i = r.split("/")[-2:]
                found.add((t, i))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(resources)
    return found


def build_compartment(person: TestPerson) -> dict[tuple[str, str], Resource]:
    """Everything this person may see, keyed by (type, id): own data plus referenced directory data."""
    own = build_person_resources(person)
    result: dict[tuple[str, str], Resource] = {(r["resourceType"], r["id"]): r for r in own}
    shared_builders = {"Organization": (ORGANIZATIONS, organization), "Practitioner": (PRACTITIONERS, practitioner),
                       "Medication": (MEDICATIONS, medication)}
    wanted = _referenced(own)
    # practitioners bring their organisations along
    for rtype, rid in list(wanted):
        if rtype == "Practitioner" and rid in PRACTITIONERS:
            wanted.add(("Organization", PRACTITIONERS[rid][2]))
    for rtype, rid in sorted(wanted):
        if (rtype, rid) in result:
            continue
        if rtype in shared_builders and rid in shared_builders[rtype][0]:
            result[(rtype, rid)] = shared_builders[rtype][1](rid)
    return result


def all_compartments() -> dict[str, dict[tuple[str, str], Resource]]:
    """username -> compartment (deep copies, so callers may alter them)."""
    return {p.username: copy.deepcopy(build_compartment(p)) for p in PERSONS}


__all__ = ["build_compartment", "build_person_resources", "all_compartments", "BSN_SYSTEM",
           "PATIENT_ID_SYSTEM", "RESOURCE_ID_SYSTEM", "PROFILE"]
