"""Data shipped with the TLS checks (NCSC v2.1 ratings, cipher suite registry, MedMij profile)."""
