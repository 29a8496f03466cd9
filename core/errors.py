"""Bad input the sender can fix, named by field: one base for every parser and store that checks input."""

from __future__ import annotations


class InputError(ValueError):
    """`field` names what is wrong (a form field, a JSON path, a query parameter), `message` says how, in
    words fit to show. `str()` is the message; a subclass may set `template` (e.g. "{field}: {message}")."""

    template = "{message}"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(self.template.format(field=field, message=message))
        self.field = field
        self.message = message
