"""Write validatiestraat's bundled *essential* profiles to ``profiles/`` (run: ``python -m validatiestraat.fhir.profilegen``).

These StructureDefinitions and ValueSets are written by us from the published facts of the
Nictiz/MedMij STU3 profiles (zib2017 / nl-core, package nictiz.fhir.nl.stu3.zib2017 2.2.18) that
the BgZ 3.0 searches return. They use the published canonical URLs, but contain only the essential
constraints: cardinalities, identifier slices (BSN, UZI, AGB, URA ...), fixed codes that identify
the zib, and bindings to the small value sets bundled here. They are differential-only overlays,
compiled on top of the base FHIR structure like the official ones.

Official packages given with ``--package`` take precedence over these (same canonical URL), and
every report names the profile source and version that was used.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

PROFILES = Path(__file__).resolve().parents[2] / "profiles"
PUBLISHED = "nictiz.fhir.nl.stu3.zib2017 2.2.18"

NICTIZ = "http://nictiz.nl/fhir/StructureDefinition/"
NLCORE = "http://fhir.nl/fhir/StructureDefinition/"
CORE = "http://hl7.org/fhir/StructureDefinition/"
DECOR = "http://decor.nictiz.nl/fhir/ValueSet/2.16.840.1.113883.2.4.3.11.60.40.{}--20171231000000"
SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
BSN = "http://fhir.nl/fhir/NamingSystem/bsn"

# Small code lists from the published zib2017 value sets (decor OID suffix -> (name, {system: codes})).
VALUE_SETS: dict[str, tuple[str, dict[str, list[str]]]] = {
    "2.17.1.5": ("ZorgverlenerRolCodelijst", {"http://hl7.org/fhir/v3/NullFlavor": ["OTH"], "http://hl7.org/fhir/v3/ParticipationType": ["ATND", "CON", "PRF", "REF", "RESP", "SPRF"]}),
    "2.13.1.1": ("ResultaatTypeCodelijst", {SCT: ["19851009", "252275004", "275711006", "314076009", "395124008", "405825005", "68793005"]}),
    "2.7.15.1": ("WilsverklaringTypeCodelijst", {"http://hl7.org/fhir/v3/NullFlavor": ["OTH"], "urn:oid:2.16.840.1.113883.2.4.3.11.60.40.4.14.1": ["DO", "EU", "EUD", "LW", "MON", "NR", "VERB", "VERBVL", "VOL"]}),
    "2.17.2.3": ("OrganisatieTypeCodelijst", {"http://nictiz.nl/fhir/NamingSystem/organization-type": ["B2", "G3", "G5", "G6", "J8", "JGZ", "K3", "K9", "L1", "M1", "N6", "P4", "P6", "R5", "R8", "T2", "V4", "V5", "V6", "X3", "Z3", "Z4", "Z5"]}),
    "2.8.2.5": ("SymptoomCodelijst", {SCT: ["126485001", "16932000", "23067006", "267036007", "271807003", "297942002", "386661006", "39579001", "40275004", "41291007", "418363000", "4386001", "473460002", "490008", "62315008"], "http://hl7.org/fhir/v3/NullFlavor": ["OTH"]}),
    "2.2.1.2": ("BehandelingToegestaanCodelijst", {"urn:oid:2.16.840.1.113883.2.4.3.11.60.40.4": ["JA", "JA_MAAR", "NEE"]}),
    "2.2.1.1": ("BehandelingCodelijst", {SCT: ["116762002", "305351004", "40617009", "89666000"], "http://hl7.org/fhir/v3/NullFlavor": ["OTH"]}),
    "2.15.1.1": ("ContactTypeCodelijst", {"http://hl7.org/fhir/v3/NullFlavor": ["OTH"], "http://hl7.org/fhir/v3/ActCode": ["AMB", "EMER", "FLD", "HH", "IMP", "SS", "VR"]}),
    "2.7.9.1": ("BurgerlijkeStaatCodelijst", {"http://hl7.org/fhir/v3/MaritalStatus": ["D", "M", "S", "T", "W"]}),
    "2.0.1.1": ("GeslachtCodelijst", {"http://hl7.org/fhir/v3/NullFlavor": ["UNK"], "http://hl7.org/fhir/v3/AdministrativeGender": ["F", "M", "UN"]}),
    "2.13.1.7": ("InterpretatieVlaggenCodelijst", {SCT: ["11896004", "131196009", "281300000", "281302008", "30714006"]}),
    "2.1.1.1": ("VerzekeringssoortCodelijst", {"urn:oid:2.16.840.1.113883.2.4.3.11.60.101.5.1": ["A", "AT", "B", "BZ", "H", "T"]}),
}


def vs(oid: str) -> str:
    return DECOR.format(oid)


class SD:
    def __init__(self, sid: str, url: str, type_: str, version: str, title: str, kind: str = "resource", base: str | None = None,
                 what: str = ""):
        self.sid = sid
        self.url = url
        self.type = type_
        self.version = version
        self.title = title
        self.kind = kind
        self.base = base or CORE + type_
        self.what = what
        self.elements: list[dict[str, Any]] = [{"id": type_, "path": type_}]

    def el(self, eid: str, **kw: Any) -> "SD":
        path = re.sub(r":[^.]+", "", eid)
        e: dict[str, Any] = {"id": eid, "path": path}
        m = re.search(r":([^.:]+)$", eid)
        if m and not path.endswith("[x]"):
            e["sliceName"] = m.group(1)
        if "short" in kw:
            e["short"] = kw.pop("short")
        if "slicing" in kw:
            discs, rules = kw.pop("slicing")
            e["slicing"] = {"discriminator": [{"type": t, "path": p} for t, p in discs], "rules": rules}
        if "min" in kw:
            e["min"] = kw.pop("min")
        if "max" in kw:
            e["max"] = str(kw.pop("max"))
        types = []
        if "type" in kw:
            t = kw.pop("type")
            if isinstance(t, str):
                types.append({"code": t})
            else:
                code, profile = t
                types.append({"code": code, "profile": profile})
        if "targets" in kw:
            for target in kw.pop("targets"):
                types.append({"code": "Reference", "targetProfile": target})
        if types:
            e["type"] = types
        if "fixed" in kw:
            kind, value = kw.pop("fixed")
            e["fixed" + kind] = value
        if "pattern" in kw:
            kind, value = kw.pop("pattern")
            e["pattern" + kind] = value
        if "constraint" in kw:
            key, human, expr = kw.pop("constraint")
            e["constraint"] = [{"key": key, "severity": "error", "human": human, "expression": expr}]
        if "binding" in kw:
            strength, url = kw.pop("binding")
            e["binding"] = {"strength": strength, "valueSetReference": {"reference": url}}
        assert not kw, kw
        self.elements.append(e)
        return self

    def coding_slice(self, base: str, name: str, system: str, code: str | None = None, min: int = 0, max: str = "1") -> "SD":
        self.el(f"{base}:{name}", min=min, max=max)
        self.el(f"{base}:{name}.system", min=1, fixed=("Uri", system))
        if code is not None:
            self.el(f"{base}:{name}.code", min=1, fixed=("Code", code))
        return self

    def identifier_slice(self, base: str, name: str, system: str, max: str = "*") -> "SD":
        self.el(f"{base}:{name}", max=max)
        self.el(f"{base}:{name}.system", min=1, fixed=("Uri", system))
        self.el(f"{base}:{name}.value", min=1)
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "resourceType": "StructureDefinition",
            "id": self.sid,
            "url": self.url,
            "version": self.version,
            "name": self.sid.replace("-", "_"),
            "title": f"{self.title} (validatiestraat essential version)",
            "status": "active",
            "experimental": False,
            "publisher": "validatiestraat",
            "description": (
                f"validatiestraat's essential version of {self.url} ({self.title}), written from the published "
                f"profile version {self.version} ({PUBLISHED}). It checks only the essential constraints"
                + (f": {self.what}" if self.what else "")
                + ". It is not the official profile: give the official package with --package to validate against it; "
                "it then takes precedence over this one."
            ),
            "fhirVersion": "3.0.2",
            "kind": self.kind,
            "abstract": False,
            "type": self.type,
            "baseDefinition": self.base,
            "derivation": "constraint",
            "differential": {"element": self.elements},
        }


def category_coding(sd: SD, name: str, system: str, code: str, min: int = 0) -> None:
    sd.el(f"{sd.type}.category", min=1)
    sd.el(f"{sd.type}.category.coding", slicing=([("value", "system"), ("value", "code")], "open"))
    sd.coding_slice(f"{sd.type}.category.coding", name, system, code, min=min)


def code_coding(sd: SD, name: str, system: str, code: str) -> None:
    sd.el(f"{sd.type}.code.coding", min=1, slicing=([("value", "system"), ("value", "code")], "open"))
    sd.coding_slice(f"{sd.type}.code.coding", name, system, code, min=1)


PATIENT = NLCORE + "nl-core-patient"
PRACTITIONER = NLCORE + "nl-core-practitioner"
ORGANIZATION = NLCORE + "nl-core-organization"
RELATED = NLCORE + "nl-core-relatedperson"


def build() -> list[dict[str, Any]]:
    out: list[SD] = []

    # -- datatype profiles ------------------------------------------------------------------
    hn = SD("nl-core-humanname", NLCORE + "nl-core-humanname", "HumanName", "2.0.10", "nl-core-humanname", "complex-type",
            what="the Dutch name-part extensions on family and given")
    hn.el("HumanName.family.extension", slicing=([("value", "url")], "open"))
    for n, u in (("ownPrefix", "humanname-own-prefix"), ("ownName", "humanname-own-name"),
                 ("partnerPrefix", "humanname-partner-prefix"), ("partnerName", "humanname-partner-name")):
        hn.el(f"HumanName.family.extension:{n}", max=1, type=("Extension", CORE + u))
    hn.el("HumanName.given.extension", slicing=([("value", "url")], "open"))
    hn.el("HumanName.given.extension:qualifier", max=1, type=("Extension", CORE + "iso21090-EN-qualifier"))
    out.append(hn)

    ad = SD("nl-core-address", NLCORE + "nl-core-address", "Address", "3.0.6", "nl-core-address", "complex-type",
            what="the Dutch postal code pattern 9999XX (a space before the letters is tolerated) when the country is the Netherlands")
    ad.el("Address", constraint=(
        "nl-postal-code-pattern", "a Dutch postal code has the form 9999XX",
        "postalCode.empty() or country.empty() or (country.lower() in ('nl' | 'nld' | 'nederland')).not() "
        "or postalCode.matches('^[0-9]{4} ?[A-Za-z]{2}$')"))
    out.append(ad)

    cp = SD("nl-core-contactpoint", NLCORE + "nl-core-contactpoint", "ContactPoint", "2.0.8", "nl-core-contactpoint", "complex-type",
            what="system is required")
    cp.el("ContactPoint.system", min=1)
    out.append(cp)

    # -- extensions used by the essential profiles -----------------------------------------
    def ext(sid: str, url: str, version: str, title: str, value_type: str, binding: tuple[str, str] | None = None) -> SD:
        e = SD(sid, url, "Extension", version, title, "complex-type", base=CORE + "Extension", what=f"url and a value of type {value_type}")
        e.el("Extension.url", fixed=("Uri", url))
        suffix = value_type[0].upper() + value_type[1:]
        e.el("Extension.value[x]", min=1, type=value_type)
        if binding:
            e.el(f"Extension.value{suffix}", binding=binding)
        return e

    out.append(ext("code-specification", NICTIZ + "code-specification", "1.0.3", "code-specification", "CodeableConcept"))
    out.append(ext("Comment", NICTIZ + "Comment", "1.0.2", "Comment", "string"))
    out.append(ext("practitionerrole-reference", NICTIZ + "practitionerrole-reference", "1.0.2", "practitionerrole-reference", "Reference"))
    out.append(ext("zib-TreatmentDirective-TreatmentPermitted", NICTIZ + "zib-TreatmentDirective-TreatmentPermitted", "1.0.3",
                   "TreatmentDirective TreatmentPermitted", "CodeableConcept", ("extensible", vs("2.2.1.2"))))
    out.append(ext("zib-TreatmentDirective-Treatment", NICTIZ + "zib-TreatmentDirective-Treatment", "1.0.3",
                   "TreatmentDirective Treatment", "CodeableConcept", ("extensible", vs("2.2.1.1"))))

    # -- resource profiles ------------------------------------------------------------------
    p = SD("nl-core-patient", PATIENT, "Patient", "2.2.4", "nl-core-patient",
           what="the BSN identifier slice (at most one; system fixed; value required, nine digits), Dutch name, "
                "address and telecom datatype profiles, general practitioner targets")
    p.el("Patient.identifier", slicing=([("value", "system")], "open"))
    p.identifier_slice("Patient.identifier", "BSN", BSN, max="1")
    p.el("Patient.identifier:BSN.value", min=1, constraint=(
        "nl-core-patient-bsn", "a BSN has exactly nine digits", "matches('^[0-9]{9}$')"))
    p.elements.pop(-2)  # the generic value min=1 above is replaced by the one with the constraint
    p.el("Patient.name", type=("HumanName", NLCORE + "nl-core-humanname"))
    p.el("Patient.telecom", type=("ContactPoint", NLCORE + "nl-core-contactpoint"))
    p.el("Patient.gender.extension", slicing=([("value", "url")], "open"))
    p.el("Patient.gender.extension:GeslachtCodelijst", max=1, type=("Extension", NICTIZ + "code-specification"))
    p.el("Patient.gender.extension:GeslachtCodelijst.valueCodeableConcept", binding=("extensible", vs("2.0.1.1")))
    p.el("Patient.address", type=("Address", NLCORE + "nl-core-address"))
    p.el("Patient.maritalStatus", binding=("extensible", vs("2.7.9.1")))
    p.el("Patient.generalPractitioner", max=1, targets=[ORGANIZATION, PRACTITIONER])
    out.append(p)

    pr = SD("nl-core-practitioner", PRACTITIONER, "Practitioner", "2.0.7", "nl-core-practitioner",
            what="the UZI, AGB and BIG identifier slices and the Dutch name profile")
    pr.el("Practitioner.identifier", slicing=([("value", "system")], "open"))
    pr.identifier_slice("Practitioner.identifier", "UZI", "http://fhir.nl/fhir/NamingSystem/uzi-nr-pers")
    pr.identifier_slice("Practitioner.identifier", "AGB", "http://fhir.nl/fhir/NamingSystem/agb-z")
    pr.identifier_slice("Practitioner.identifier", "BIG", "http://fhir.nl/fhir/NamingSystem/big")
    pr.el("Practitioner.name", type=("HumanName", NLCORE + "nl-core-humanname"))
    pr.el("Practitioner.telecom", type=("ContactPoint", NLCORE + "nl-core-contactpoint"))
    pr.el("Practitioner.address", type=("Address", NLCORE + "nl-core-address"))
    out.append(pr)

    prr = SD("nl-core-practitionerrole", NLCORE + "nl-core-practitionerrole", "PractitionerRole", "2.0.7", "nl-core-practitionerrole",
             what="practitioner and organization targets, specialty coding slices")
    prr.el("PractitionerRole.practitioner", targets=[PRACTITIONER])
    prr.el("PractitionerRole.organization", targets=[ORGANIZATION])
    prr.el("PractitionerRole.specialty.coding", slicing=([("value", "system")], "open"))
    prr.coding_slice("PractitionerRole.specialty.coding", "SpecialtyUZI", "http://fhir.nl/fhir/NamingSystem/uzi-rolcode")
    prr.coding_slice("PractitionerRole.specialty.coding", "SpecialtyAGB", "urn:oid:2.16.840.1.113883.2.4.6.7")
    out.append(prr)

    org = SD("nl-core-organization", ORGANIZATION, "Organization", "2.0.6", "nl-core-organization",
             what="the URA, AGB and UZOVI identifier slices and the organization type binding")
    org.el("Organization.identifier", slicing=([("value", "system")], "open"))
    org.identifier_slice("Organization.identifier", "URA", "http://fhir.nl/fhir/NamingSystem/ura")
    org.identifier_slice("Organization.identifier", "AGB", "http://fhir.nl/fhir/NamingSystem/agb-z")
    org.identifier_slice("Organization.identifier", "UZOVI", "http://fhir.nl/fhir/NamingSystem/uzovi")
    org.el("Organization.type", slicing=([("value", "coding.system")], "open"))
    org.el("Organization.type:organizationType", binding=("required", vs("2.17.2.3")))
    org.el("Organization.type:organizationType.coding.system", min=1, fixed=("Uri", "http://nictiz.nl/fhir/NamingSystem/organization-type"))
    org.el("Organization.telecom", type=("ContactPoint", NLCORE + "nl-core-contactpoint"))
    org.el("Organization.address", type=("Address", NLCORE + "nl-core-address"))
    out.append(org)

    cov = SD("zib-Payer", NICTIZ + "zib-Payer", "Coverage", "2.0.5", "zib-Payer",
             what="a payor is required; the insurance type binding; beneficiary and payor targets")
    cov.el("Coverage.type", binding=("extensible", vs("2.1.1.1")))
    cov.el("Coverage.beneficiary", targets=[PATIENT])
    cov.el("Coverage.payor", min=1, targets=[ORGANIZATION, PATIENT, RELATED])
    out.append(cov)

    td = SD("zib-TreatmentDirective", NICTIZ + "zib-TreatmentDirective", "Consent", "2.2.3", "zib-TreatmentDirective",
            what="the treatment directive category code (SNOMED 11291000146105) and the treatmentPermitted modifier extension")
    td.el("Consent.modifierExtension", slicing=([("value", "url")], "open"))
    td.el("Consent.modifierExtension:treatmentPermitted", min=1, max=1,
          type=("Extension", NICTIZ + "zib-TreatmentDirective-TreatmentPermitted"))
    td.el("Consent.extension", slicing=([("value", "url")], "open"))
    td.el("Consent.extension:treatment", max=1, type=("Extension", NICTIZ + "zib-TreatmentDirective-Treatment"))
    category_coding(td, "treatmentDirective", SCT, "11291000146105", min=1)
    td.el("Consent.patient", targets=[PATIENT])
    out.append(td)

    adv = SD("zib-AdvanceDirective", NICTIZ + "zib-AdvanceDirective", "Consent", "2.1.5", "zib-AdvanceDirective",
             what="the living will category (SNOMED 11341000146107) and a living will type from WilsverklaringTypeCodelijst; dateTime")
    adv.el("Consent.category", min=2, slicing=([("value", "$this")], "open"))
    adv.el("Consent.category:livingWill", min=1, max=1,
           pattern=("CodeableConcept", {"coding": [{"system": SCT, "code": "11341000146107"}]}))
    adv.el("Consent.category:typeOfLivingWill", min=1, max=1, binding=("required", vs("2.7.15.1")))
    adv.el("Consent.dateTime", min=1)
    adv.el("Consent.patient", targets=[PATIENT])
    out.append(adv)

    fms = SD("zib-FunctionalOrMentalStatus", NICTIZ + "zib-FunctionalOrMentalStatus", "Observation", "2.1.4",
             "zib-FunctionalOrMentalStatus", what="the functional (118228005) and mental (384821006) category codes")
    fms.el("Observation.category", min=1)
    fms.el("Observation.category.coding", slicing=([("value", "code")], "open"))
    fms.coding_slice("Observation.category.coding", "functionalCode", SCT, "118228005")
    fms.coding_slice("Observation.category.coding", "mentalCode", SCT, "384821006")
    fms.el("Observation.subject", targets=[PATIENT])
    out.append(fms)

    def lifestyle(sid: str, version: str, code: str, slice_name: str, value_required: bool, what: str) -> SD:
        o = SD(sid, NICTIZ + sid, "Observation", version, sid, what=what)
        code_coding(o, slice_name, SCT, code)
        if value_required:
            o.el("Observation.value[x]:valueCodeableConcept", min=1, type="CodeableConcept")
        o.el("Observation.subject", targets=[PATIENT])
        return o

    out.append(lifestyle("zib-LivingSituation", "2.1.5", "365508006", "livingSituationCode", False, "the code SNOMED 365508006"))
    out.append(lifestyle("zib-DrugUse", "2.1.6", "228366006", "drugUseCode", True, "the code SNOMED 228366006 and a coded value"))
    out.append(lifestyle("zib-AlcoholUse", "2.1.7", "228273003", "alcoholUseCode", True, "the code SNOMED 228273003 and a coded value"))
    tob = lifestyle("zib-TobaccoUse", "2.1.8", "365980008", "TobaccoUseCode", True,
                    "the code SNOMED 365980008, a coded value and pack years in {PackYears}")
    tob.el("Observation.component", slicing=([("value", "code.coding.code")], "open"))
    tob.el("Observation.component:PackYears", max=1)
    tob.el("Observation.component:PackYears.code.coding.system", fixed=("Uri", SCT))
    tob.el("Observation.component:PackYears.code.coding.code", fixed=("Code", "401201003"))
    tob.el("Observation.component:PackYears.value[x]:valueQuantity.system", min=1, fixed=("Uri", UCUM))
    tob.el("Observation.component:PackYears.value[x]:valueQuantity.code", min=1, fixed=("Code", "{PackYears}"))
    out.append(tob)

    def vital(sid: str, version: str, code: str, slice_name: str, what: str) -> SD:
        o = SD(sid, NICTIZ + sid, "Observation", version, sid, what=what)
        o.el("Observation.category", min=1, slicing=([("pattern", "$this")], "open"))
        o.el("Observation.category:VSCat", min=1, max=1, short="vs-4 as a slice",
             pattern=("CodeableConcept", {"coding": [{"system": "http://hl7.org/fhir/observation-category", "code": "vital-signs"}]}))
        code_coding(o, slice_name, LOINC, code)
        o.el("Observation.subject", min=1, targets=[PATIENT])
        o.el("Observation.effective[x]", min=1)
        return o

    bp = vital("zib-BloodPressure", "3.0.5", "85354-9", "bloodPressureCode",
               "vital-signs category, LOINC 85354-9, systolic (8480-6) and diastolic (8462-4) components in mm[Hg]")
    bp.el("Observation.component", min=2, slicing=([("pattern", "code")], "open"))
    for name, code in (("SystolicBP", "8480-6"), ("DiastolicBP", "8462-4")):
        bp.el(f"Observation.component:{name}", min=1, max=1)
        bp.el(f"Observation.component:{name}.code", pattern=("CodeableConcept", {"coding": [{"system": LOINC, "code": code}]}))
        bp.el(f"Observation.component:{name}.value[x]:valueQuantity", min=1, type="Quantity")
        bp.el(f"Observation.component:{name}.value[x]:valueQuantity.system", min=1, fixed=("Uri", UCUM))
        bp.el(f"Observation.component:{name}.value[x]:valueQuantity.code", min=1, fixed=("Code", "mm[Hg]"))
    out.append(bp)
    for sid, version, code, slice_name, units in (
        ("zib-BodyWeight", "2.0.4", "29463-7", "bodyWeightCode", ["kg", "g"]),
        ("zib-BodyHeight", "2.1.6", "8302-2", "BodyHeightCode", ["cm", "m"]),
    ):
        o = vital(sid, version, code, slice_name, f"vital-signs category, LOINC {code}, a UCUM quantity ({', '.join(units)})")
        o.el("Observation.valueQuantity", min=1)
        o.el("Observation.valueQuantity.value", min=1)
        o.el("Observation.valueQuantity.system", min=1, fixed=("Uri", UCUM))
        o.el("Observation.valueQuantity.code", min=1)
        out.append(o)
    # zib-BodyHeight also allows the standing (8308-9) and lying (8306-3) codes
    bh = out[-1]
    bh.elements = [e for e in bh.elements if not e["id"].startswith("Observation.code.coding")]
    bh.el("Observation.code.coding", min=1, slicing=([("value", "system"), ("value", "code")], "open"))
    bh.coding_slice("Observation.code.coding", "BodyHeightCode", LOINC, "8302-2")
    bh.coding_slice("Observation.code.coding", "bodyHeightCodeStanding", LOINC, "8308-9")
    bh.coding_slice("Observation.code.coding", "bodyHeightCodeLying", LOINC, "8306-3")

    lab = SD("zib-LaboratoryTestResult-Observation", NICTIZ + "zib-LaboratoryTestResult-Observation", "Observation", "2.1.12",
             "zib-LaboratoryTestResult-Observation",
             what="the laboratory category (SNOMED 49581000146104) and the result type from ResultaatTypeCodelijst")
    lab.el("Observation.category", min=1, slicing=([("value", "$this")], "open"))
    lab.el("Observation.category:LaboratoryTestResultCode", min=1, max=1,
           pattern=("CodeableConcept", {"coding": [{"system": SCT, "code": "49581000146104"}]}))
    lab.el("Observation.category:ResultType", max=1, binding=("required", vs("2.13.1.1")))
    lab.el("Observation.interpretation.coding", slicing=([("value", "system")], "open"))
    lab.el("Observation.interpretation.coding:InterpretatieVlaggenCodelijst", binding=("required", vs("2.13.1.7")))
    lab.el("Observation.interpretation.coding:InterpretatieVlaggenCodelijst.system", min=1, fixed=("Uri", SCT))
    lab.el("Observation.interpretation.coding:InterpretatieVlaggenCodelijst.code", min=1)
    lab.el("Observation.subject", targets=[PATIENT])
    out.append(lab)

    cond = SD("zib-Problem", NICTIZ + "zib-Problem", "Condition", "3.0.6", "zib-Problem",
              what="clinicalStatus and code are required; subject is an nl-core-patient")
    cond.el("Condition.clinicalStatus", min=1)
    cond.el("Condition.code", min=1)
    cond.el("Condition.subject", targets=[PATIENT])
    out.append(cond)

    nut = SD("zib-NutritionAdvice", NICTIZ + "zib-NutritionAdvice", "NutritionOrder", "2.1.2", "zib-NutritionAdvice",
             what="the patient is an nl-core-patient")
    nut.el("NutritionOrder.patient", targets=[PATIENT])
    out.append(nut)

    flag = SD("zib-Alert", NICTIZ + "zib-Alert", "Flag", "2.1.5", "zib-Alert", what="the subject is an nl-core-patient")
    flag.el("Flag.subject", targets=[PATIENT])
    out.append(flag)

    ai = SD("zib-AllergyIntolerance", NICTIZ + "zib-AllergyIntolerance", "AllergyIntolerance", "3.0.7", "zib-AllergyIntolerance",
            what="code is required (coded in SNOMED, G-Standaard or Thesaurus 122); reaction manifestation from SymptoomCodelijst")
    ai.el("AllergyIntolerance.code", min=1)
    ai.el("AllergyIntolerance.code.coding", slicing=([("value", "system")], "open"))
    for name, system in (("causativeAgentAllergicAgentCodelist", SCT), ("causativeAgentHPKCodelist", "urn:oid:2.16.840.1.113883.2.4.4.7"),
                         ("causativeAgentSNKCodelist", "urn:oid:2.16.840.1.113883.2.4.4.1.750"),
                         ("causativeAgentSSKCodelist", "urn:oid:2.16.840.1.113883.2.4.4.1.725"),
                         ("causativeAgentThesaurus122Codelist", "urn:oid:2.16.840.1.113883.2.4.4.1.902.122")):
        ai.coding_slice("AllergyIntolerance.code.coding", name, system)
    ai.el("AllergyIntolerance.patient", targets=[PATIENT])
    ai.el("AllergyIntolerance.reaction.manifestation", binding=("required", vs("2.8.2.5")))
    out.append(ai)

    mu = SD("zib-MedicationUse", NICTIZ + "zib-MedicationUse", "MedicationStatement", "2.2.11", "zib-MedicationUse",
            what="the medication use category (urn:oid:2.16.840.1.113883.2.4.3.11.60.20.77.5.3 code 6) and dateAsserted")
    category_coding(mu, "medicationUseCode", "urn:oid:2.16.840.1.113883.2.4.3.11.60.20.77.5.3", "6")
    mu.el("MedicationStatement.dateAsserted", min=1)
    mu.el("MedicationStatement.subject", targets=[PATIENT])
    out.append(mu)

    ma = SD("zib-MedicationAgreement", NICTIZ + "zib-MedicationAgreement", "MedicationRequest", "2.2.9", "zib-MedicationAgreement",
            what="intent order, the medication agreement category (SNOMED 16076005) and authoredOn")
    ma.el("MedicationRequest.intent", fixed=("Code", "order"))
    category_coding(ma, "medicationAgreementCode", SCT, "16076005")
    ma.el("MedicationRequest.authoredOn", min=1)
    ma.el("MedicationRequest.subject", targets=[PATIENT])
    out.append(ma)

    md = SD("zib-Dispense", NICTIZ + "zib-Dispense", "MedicationDispense", "2.2.4", "zib-Dispense",
            what="a category is required; no dosage instructions")
    category_coding(md, "DispenseCode", SCT, "373784005")
    md.el("MedicationDispense.dosageInstruction", max=0)
    md.el("MedicationDispense.subject", targets=[PATIENT])
    out.append(md)

    aa = SD("zib-AdministrationAgreement", NICTIZ + "zib-AdministrationAgreement", "MedicationDispense", "2.2.8",
            "zib-AdministrationAgreement", what="a category is required (administration agreement: SNOMED 422037009)")
    category_coding(aa, "administrationAgreementCode", SCT, "422037009")
    aa.el("MedicationDispense.subject", targets=[PATIENT])
    out.append(aa)

    spec = SD("zib-LaboratoryTestResult-Specimen", NICTIZ + "zib-LaboratoryTestResult-Specimen", "Specimen", "3.0.2",
              "zib-LaboratoryTestResult-Specimen", what="the subject is a patient")
    spec.el("Specimen.subject", targets=[PATIENT, CORE + "Group", CORE + "Device", CORE + "Substance"])
    out.append(spec)

    med = SD("zib-Product", NICTIZ + "zib-Product", "Medication", "2.0.6", "zib-Product",
             what="at most one code per G-Standaard level / GTIN / ATC system")
    med.el("Medication.code.coding", slicing=([("value", "system")], "open"))
    for name, system in (("productCodeZICodelijst", "urn:oid:2.16.840.1.113883.2.4.4.8"),
                         ("productCodeHPKCodelijst", "urn:oid:2.16.840.1.113883.2.4.4.7"),
                         ("productCodeGTINCodelijst", "urn:oid:1.3.160"),
                         ("productCodeGPKCodelijst", "urn:oid:2.16.840.1.113883.2.4.4.1"),
                         ("productCodePRKCodelijst", "urn:oid:2.16.840.1.113883.2.4.4.10"),
                         ("productCodeATCCodelijst", "http://www.whocc.no/atc")):
        med.coding_slice("Medication.code.coding", name, system)
    out.append(med)

    dus = SD("zib-MedicalDevice", NICTIZ + "zib-MedicalDevice", "DeviceUseStatement", "2.2.2", "zib-MedicalDevice",
             what="subject and device targets")
    dus.el("DeviceUseStatement.subject", targets=[PATIENT])
    dus.el("DeviceUseStatement.device", targets=[NICTIZ + "zib-MedicalDeviceProduct"])
    out.append(dus)

    dev = SD("zib-MedicalDeviceProduct", NICTIZ + "zib-MedicalDeviceProduct", "Device", "2.0.6", "zib-MedicalDeviceProduct",
             what="the serial number identifier slice (type SNO) and a coded device type")
    dev.el("Device.identifier", slicing=([("pattern", "type")], "open"))
    dev.el("Device.identifier:serialNumber", max=1)
    dev.el("Device.identifier:serialNumber.type", min=1,
           pattern=("CodeableConcept", {"coding": [{"system": "http://hl7.org/fhir/identifier-type", "code": "SNO"}]}))
    dev.el("Device.identifier:serialNumber.value", min=1)
    dev.el("Device.type.coding.system", min=1)
    dev.el("Device.type.coding.code", min=1)
    out.append(dev)

    def vaccine_codes(sd: SD, base: str) -> None:
        sd.el(f"{base}.coding", min=1, slicing=([("value", "system")], "open"))
        for name, system in (("productCodeGPKCodelijst", "urn:oid:2.16.840.1.113883.2.4.4.1"),
                             ("productCodeHPKCodelijst", "urn:oid:2.16.840.1.113883.2.4.4.7"),
                             ("productCodeZICodelijst", "urn:oid:2.16.840.1.113883.2.4.4.8"),
                             ("productCodeATCCodelijst", "http://www.whocc.no/atc"),
                             ("productCodePRKCodelijst", "urn:oid:2.16.840.1.113883.2.4.4.10"),
                             ("productCodeGTINCodelijst", "urn:oid:1.3.160")):
            sd.coding_slice(f"{base}.coding", name, system)

    imm = SD("zib-Vaccination", NICTIZ + "zib-Vaccination", "Immunization", "2.1.5", "zib-Vaccination",
             what="a coded vaccine (at most one code per system) and a date")
    vaccine_codes(imm, "Immunization.vaccineCode")
    imm.el("Immunization.date", min=1)
    imm.el("Immunization.patient", targets=[PATIENT])
    out.append(imm)

    ir = SD("zib-VaccinationRecommendation", NICTIZ + "zib-VaccinationRecommendation", "ImmunizationRecommendation", "2.0.5",
            "zib-VaccinationRecommendation", what="a coded vaccine per recommendation")
    vaccine_codes(ir, "ImmunizationRecommendation.recommendation.vaccineCode")
    ir.el("ImmunizationRecommendation.patient", targets=[PATIENT])
    out.append(ir)

    proc = SD("zib-Procedure", NICTIZ + "zib-Procedure", "Procedure", "2.1.9", "zib-Procedure",
              what="a category is required; procedure codes in SNOMED; performer role binding")
    proc.el("Procedure.category", min=1)
    proc.el("Procedure.code.coding", slicing=([("value", "system")], "open"))
    proc.coding_slice("Procedure.code.coding", "VerrichtingTypeCodelijst", SCT, max="*")
    proc.el("Procedure.subject", targets=[PATIENT])
    proc.el("Procedure.performer.role.coding", slicing=([("value", "$this")], "open"))
    proc.el("Procedure.performer.role.coding:healthProfessionalRole", binding=("required", vs("2.17.1.5")))
    out.append(proc)

    enc = SD("zib-Encounter", NICTIZ + "zib-Encounter", "Encounter", "2.1.6", "zib-Encounter",
             what="class (ContactTypeCodelijst) and period.start are required")
    enc.el("Encounter.class", min=1, binding=("extensible", vs("2.15.1.1")))
    enc.el("Encounter.period", min=1)
    enc.el("Encounter.period.start", min=1)
    enc.el("Encounter.subject", targets=[PATIENT])
    out.append(enc)

    preq = SD("zib-ProcedureRequest", NICTIZ + "zib-ProcedureRequest", "ProcedureRequest", "2.1.9", "zib-ProcedureRequest",
              what="procedure codes in SNOMED; performer type binding")
    preq.el("ProcedureRequest.code.coding", slicing=([("value", "system")], "open"))
    preq.coding_slice("ProcedureRequest.code.coding", "VerrichtingTypeCodelijst", SCT)
    preq.el("ProcedureRequest.subject", targets=[PATIENT])
    preq.el("ProcedureRequest.performerType.coding", slicing=([("value", "$this")], "open"))
    preq.el("ProcedureRequest.performerType.coding:healthProfessionalRole", binding=("required", vs("2.17.1.5")))
    out.append(preq)

    dreq = SD("zib-MedicalDeviceRequest", NICTIZ + "zib-MedicalDeviceRequest", "DeviceRequest", "2.1.6", "zib-MedicalDeviceRequest",
              what="subject and device targets; performer type binding")
    dreq.el("DeviceRequest.subject", targets=[PATIENT])
    dreq.el("DeviceRequest.codeReference", targets=[NICTIZ + "zib-MedicalDeviceProduct"])
    dreq.el("DeviceRequest.performerType.coding", slicing=([("value", "$this")], "open"))
    dreq.el("DeviceRequest.performerType.coding:healthProfessionalRole", binding=("required", vs("2.17.1.5")))
    out.append(dreq)

    appt = SD("eAfspraak-Appointment", NICTIZ + "eAfspraak-Appointment", "Appointment", "1.0.0", "eAfspraak-Appointment",
              what="start and end are required (a booked, pending or proposed appointment in the BgZ has a time) and "
                   "at least one participant is the patient")
    appt.el("Appointment.participant", min=1, slicing=([("type", "actor.resolve()")], "open"))
    appt.el("Appointment.participant:patient", min=0, max=1)
    appt.el("Appointment.participant:patient.actor", min=1, targets=[PATIENT])
    out.append(appt)

    return [s.to_json() for s in out] + [_value_set(oid, name, codes) for oid, (name, codes) in VALUE_SETS.items()]


def _value_set(oid: str, name: str, codes: dict[str, list[str]]) -> dict[str, Any]:
    full = f"2.16.840.1.113883.2.4.3.11.60.40.{oid}"
    return {
        "resourceType": "ValueSet",
        "id": f"{full}--20171231000000",
        "url": vs(oid),
        "version": "2017-12-31T00:00:00",
        "name": name,
        "title": f"{name} (validatiestraat bundled copy of the code list)",
        "status": "active",
        "publisher": "validatiestraat",
        "description": f"The codes of the zib2017 value set {name} ({full}) as published, bundled so that required "
                       f"bindings can be checked offline.",
        "compose": {"include": [{"system": s, "concept": [{"code": c} for c in cs]} for s, cs in codes.items()]},
    }


def main(argv: list[str] | None = None) -> int:
    PROFILES.mkdir(exist_ok=True)
    for old in PROFILES.glob("stu3-*.json"):
        old.unlink()
    resources = build()
    for r in resources:
        name = f"stu3-{r['resourceType']}-{r['id']}.json"
        (PROFILES / name).write_text(json.dumps(r, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(resources)} resources to {PROFILES}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
