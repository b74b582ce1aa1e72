"""Exceptions raised by mfpde.

Every error a user can cause (a bad config, a bad density, a bad parameter) is an
:class:`InputError`; the command line turns it into a one-line ``error: ...`` and exit code 2.
A solver that meets a non-finite or negative density raises :class:`NumericalError`
(exit code 1), never a silently wrong number.
"""


class MfpdeError(Exception):
    """Base class of the errors mfpde raises on purpose."""


class InputError(MfpdeError, ValueError):
    """Bad input: configuration, expression, density or parameter."""


class NumericalError(MfpdeError, ArithmeticError):
    """The discrete solution left the admissible set (non-finite or non-positive density)."""
