"""Process exit codes, shared by every subcommand."""

OK = 0  # ready / valid / nothing wrong
FINDINGS = 1  # `validate`, `lists check`, `tls check`: the input has errors
NOT_READY = 3  # `run`: at least one MUST requirement failed or errored
CONFIG_ERROR = 4  # bad usage, bad scenario, bad target, failed preflight
INTERNAL_ERROR = 5  # a bug in validatiestraat
