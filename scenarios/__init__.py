"""Bundled scenarios (data): shipped inside the package as validatiestraat.scenarios."""
