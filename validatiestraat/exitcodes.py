"""Process exit codes, shared by every subcommand."""

OK = 0  # ready / valid / nothing wrong
FINDINGS = 1  # `validate`, `lists check`, `tls check`: the input has errors
NOT_READY = 3  # `run`: NOT READY (a MUST requirement failed) or INCOMPLETE (an in-scope MUST not judged)
CONFIG_ERROR = 4  # bad usage, bad scenario, bad target, failed preflight
INTERNAL_ERROR = 5  # a bug in validatiestraat
INTERRUPTED_SIGINT = 130  # `run` stopped by Ctrl-C / SIGINT: the partial reports were written
INTERRUPTED_SIGTERM = 143  # `run` stopped by SIGTERM: the partial reports were written
