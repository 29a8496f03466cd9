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


def N_(message: str) -> str:  # noqa: N802 - the name gettext tools look for
    """Marks a message for the catalog without translating it here (whoever shows it translates it)."""
    return message


class CatalogText(str):
    """Words told by a catalog message, so a console can say them in the page's language: where in an input a
    problem is ("unit.geojson: feature <id>", "device #3"), what a draft's step added. The str is the English
    (what str() of an error, the CLI and a JSON API say); `template` (N_-marked) and `params` are for
    `_(template, **params)`. A param may be a CatalogText itself (a feature's geometry: "%(where)s: geometry")."""

    template: str
    params: dict[str, object]

    def __new__(cls, template: str, **params: object) -> CatalogText:
        self = super().__new__(cls, template % params)
        self.template, self.params = template, params
        return self

    def __getnewargs_ex__(self) -> tuple[tuple[str], dict[str, object]]:  # copy and pickle make it anew
        return (self.template,), self.params


class CatalogInputError(InputError):
    """Bad input told by a catalog message, so a console can show it in the page's language: `template` is
    the N_-marked msgid (%(label)s stands for the field) and `params` its values; a console shows
    `_(template, label=<the field's label>, **params)` (portal/owner/forms.py `field_error`), while `message`
    is the English text naming the field as sent (what a JSON API answers). `field` may be a CatalogText."""

    def __init__(self, field: str, template: str, **params: object) -> None:
        super().__init__(field, template % {"label": field, **params})
        self.template, self.params = template, params  # the instance's msgid (the class's is str()'s format)


class CatalogProblems(ValueError):
    """Every problem found in one input (a file), all or nothing: `details` lists them, each a str (said as it
    is) or a CatalogInputError (said in the page's language); the class's `template` (an N_ msgid with
    %(count)s and %(problems)s) heads them. A console shows it with portal.errors.input_error_text; `str()` is
    the English text (the CLI's), its first SHOWN problems and how many more."""

    template = N_("%(count)s problem(s):\n%(problems)s")
    SHOWN = 20
    joiner = "\n"  # between the problems where the template's %(problems)s lists them

    def __init__(self, problems: list[str | CatalogInputError | CatalogProblems]) -> None:
        self.details = list(problems)
        self.problems = [str(p) for p in problems]
        more = f"\n... and {len(problems) - self.SHOWN} more" if len(problems) > self.SHOWN else ""
        self.params = {"count": len(problems), "problems": "\n".join(self.problems[:self.SHOWN]) + more}
        super().__init__(self.template % self.params)
