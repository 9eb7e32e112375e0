"""The PGO side: the suite plays the DVA and the stelselnode and judges what a PGO sends.

- :mod:`validatiestraat.pgo.model`: what the harness records (:class:`Seen`) and the scripted
  answers it can give (:data:`BEHAVIOURS`);
- :mod:`validatiestraat.pgo.harness`: the harness, the embedded reference DVA in harness mode
  (real HTTPS on 127.0.0.1, mTLS on the backchannel, the MedMij lists of a stelselnode) recording
  every request the PGO makes;
- :mod:`validatiestraat.pgo.reference`: the embedded reference PGO with its fault switches;
- :mod:`validatiestraat.pgo.driver`: how the harness makes a PGO act (the target's ``pgo:`` block);
- :mod:`validatiestraat.pgo.steps` and :mod:`validatiestraat.pgo.checks`: the step kinds and the
  PGO-* checks used by ``scenarios/pgo/``.
"""
