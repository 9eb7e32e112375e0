"""Synthetic test persons and their BgZ (gegevensdienst 48) data for the reference DVA.

Everything here is made up for validatiestraat (no Nictiz fixture is copied). The persons have
``XXX_`` family names like the qualification test persons. Their BSNs are fictitious (9999…,
elf-proof) and are used only by the DigiD-mock login page (login variant 2) and by the
``bsn-in-response`` fault: no FHIR resource carries a BSN.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the password of every test person (test accounts of a throw-away server, not a secret)
TEST_PASSWORD = "validatiestraat-test"


@dataclass(frozen=True)
class TestPerson:
    key: str  # prefix of the person's resource ids, e.g. "p1"
    username: str
    bsn: str  # fictitious; never in FHIR data unless the bsn-in-response fault is on
    given: str
    family: str
    gender: str  # FHIR AdministrativeGender
    birth_date: str
    #: gegevensdiensten for which this person has data at the reference aanbieder
    services: frozenset[str]
    password: str = TEST_PASSWORD

    @property
    def display(self) -> str:
        return f"{self.given} {self.family}"


PERSONS: tuple[TestPerson, ...] = (
    TestPerson("p1", "testpersoon", "999910036", "Jan", "XXX_Testpersoon", "male", "1968-03-14",
               frozenset({"48", "49"})),
    TestPerson("p2", "proefpersoon", "999910048", "Anna", "XXX_Proefpersoon", "female", "1985-11-02",
               frozenset({"48"})),
)


def person_by_username(username: str) -> TestPerson | None:
    return next((p for p in PERSONS if p.username == username), None)


def person_by_bsn(bsn: str) -> TestPerson | None:
    return next((p for p in PERSONS if p.bsn == bsn), None)


__all__ = ["PERSONS", "TEST_PASSWORD", "TestPerson", "person_by_username", "person_by_bsn"]
