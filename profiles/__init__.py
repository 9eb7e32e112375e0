"""Bundled conformance resources (data): shipped inside the package as validatiestraat.profiles."""
