"""Errors a person can act on: what is wrong, where, and how to fix it."""


class UserError(Exception):
    """Bad input or a failed precondition; the CLI prints it without a traceback.

    exit_code: 2 for bad input (usage, malformed files), 1 for a check that found problems.
    """

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class LLMUnavailable(Exception):
    """The LLM endpoint is missing, unreachable or keeps failing; state is kept, the person is told."""
