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
#: lifetime of the access tokens of :data:`SHORT_LIVED_PERSON`, in seconds
SHORT_ACCESS_TOKEN_LIFETIME = 3.0


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
    #: access tokens of this person live this long (seconds) instead of the server's lifetime: a
    #: person whose tokens expire quickly lets a suite observe RS-AUTH-05 without a 15-minute wait
    access_token_lifetime: float | None = None

    @property
    def display(self) -> str:
        return f"{self.given} {self.family}"


PERSONS: tuple[TestPerson, ...] = (
    TestPerson("p1", "testpersoon", "999910036", "Jan", "XXX_Testpersoon", "male", "1968-03-14",
               frozenset({"48", "49"})),
    TestPerson("p2", "proefpersoon", "999910048", "Anna", "XXX_Proefpersoon", "female", "1985-11-02",
               frozenset({"48"})),
    # access tokens of this person expire after 3 seconds (the expired-token scenario, RS-AUTH-05)
    TestPerson("p3", "verlooppersoon", "999910061", "Kees", "XXX_Verlooppersoon", "male", "1952-07-21",
               frozenset({"48"}), access_token_lifetime=SHORT_ACCESS_TOKEN_LIFETIME),
)

#: the person whose access tokens expire quickly
SHORT_LIVED_PERSON: TestPerson = PERSONS[2]


def person_by_username(username: str) -> TestPerson | None:
    return next((p for p in PERSONS if p.username == username), None)


def person_by_bsn(bsn: str) -> TestPerson | None:
    return next((p for p in PERSONS if p.bsn == bsn), None)


__all__ = ["PERSONS", "SHORT_ACCESS_TOKEN_LIFETIME", "SHORT_LIVED_PERSON", "TEST_PASSWORD", "TestPerson",
           "person_by_username", "person_by_bsn"]
