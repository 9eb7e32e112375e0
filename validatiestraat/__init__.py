"""validatiestraat: conformance and validation suite for the MedMij afsprakenstelsel."""

__version__ = "0.1.0"
#: version of the bundled scenario suite and requirement catalogue
SUITE_VERSION = "2026.11-1"

__all__ = ["__version__", "SUITE_VERSION"]
