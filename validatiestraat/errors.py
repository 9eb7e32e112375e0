"""Errors that reach the user as a located message and an exit code, never as a traceback."""

from __future__ import annotations

from dataclasses import dataclass

from validatiestraat import exitcodes


@dataclass
class Problem:
    """One located problem in an input file."""

    file: str
    line: int | None
    column: int | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message}"


class UserError(Exception):
    """Bad input: reported as one or more located problems with a distinct exit code."""

    exit_code = exitcodes.CONFIG_ERROR

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.problems = problems or []
