"""Opening a venue: drafts of map changes, the set-up checklist, and the venue's zone-owner accounts.

    /console/ops/<venue>/drafts                      open drafts; start one
    /console/ops/<venue>/drafts/<id>                 its steps, the diff, a preview of each floor; add an
                                                     IMDF plan, an AP list, survey samples, derived walkways;
                                                     apply (ONE map version) or abandon
    /console/ops/<venue>/drafts/<id>/preview/<level>.svg
    /console/ops/<venue>/checklist                   what is done and what is missing, each with its tool

These pages work for a venue that has no map yet (its operator was created with `flask users create`):
the first draft usually starts with its IMDF plan."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.errors import CatalogInputError
from fingerprints.ap_lists import TEMPLATE_CSV, ApListError, parse_floor_names, parse_plan_alignment, read_ap_list
from fingerprints.drafts import DraftStore, aps_note, diff_maps, imdf_note, samples_note, walkways_note
from fingerprints.edits import EditError
from fingerprints.imdf import import_imdf, import_imdf_with_notes
from fingerprints.model import ID_RE
from fingerprints.samples_io import FORMATS as SAMPLE_FORMATS
from fingerprints.samples_io import import_samples_with_notes
from portal.auth import audit, current_account
from portal.errors import input_error_text, said
from portal.maps.builds import model_state
from portal.maps.checklist import COVER_CELL_M, checklist, coverage_grid, survey_route
from portal.operator.blueprint import bp, works_without_map
from portal.operator.mapedit import (
    UPLOAD_MAX_BYTES,
    dropped_zones_warning,
    form_float,
    import_notes_warning,
    overlay_svg,
    release_and_warn,
    translate_edit_error,
)
from portal.operator.surveys import imported_offset_warning
from portal.services import services

DRAFT_ID_CHARS = frozenset("0123456789abcdef")


def _drafts() -> DraftStore:
    svc = services()
    return DraftStore(svc.db, svc.venues)


def _draft_or_404(venue: str, draft_id: str):
    draft = _drafts().get(venue, draft_id) if set(draft_id) <= DRAFT_ID_CHARS and len(draft_id) <= 32 else None
    if draft is None:
        abort(404, _("There is no such draft (applied or abandoned already?)."))
    return draft


def _file(name: str) -> tuple[bytes, str] | None:
    f = request.files.get(name)
    if f is None or not f.filename:
        return None
    data = f.read(UPLOAD_MAX_BYTES + 1)
    if len(data) > UPLOAD_MAX_BYTES:
        raise ValueError(_("The file is too large; at most %(mb)s MB.", mb=UPLOAD_MAX_BYTES // 2**20))
    return data, f.filename[:100]


def samples_import_args() -> dict[str, Any]:
    """import_samples' options from a samples form: `format` (auto | mallportal | ujiindoorloc), `scans` (per
    single-row point), `waps` (the UJIIndoorLoc WAP,BSSID sidecar file), `venue_order` (the WAP columns
    are the venue's AP list in order) and `floors` (the file's floor names, as the AP list's form takes them). One
    reader for every form that takes survey samples, so a file reads the same wherever it is uploaded;
    fingerprints.samples_io decides when a sidecar may be missing."""
    fmt = request.form.get("format") or "auto"
    if fmt not in ("auto", *SAMPLE_FORMATS):
        raise ValueError(_("Unknown sample format; choose one of %(f)s.", f=", ".join(SAMPLE_FORMATS)))
    scans = int(form_float("scans", _("Scans per point"), 1, 10_000)) if request.form.get("scans") else 1
    sidecar = _file("waps")
    return {"fmt": None if fmt == "auto" else fmt, "scans": scans, "sidecar": sidecar[0] if sidecar else None,
            "waps_in_venue_order": request.form.get("venue_order") == "1", "floors": _floor_names()}


def _floor_names() -> dict[str, int]:
    """A samples form's Floor names in the file (`floors`, parse_floor_names); a malformed pair is said as the
    field's problem alone (the parser's own error heads it as an AP list's)."""
    try:
        return parse_floor_names(request.form.get("floors", "")[:2000])
    except ApListError as exc:
        raise exc.details[0] from None


def survey_notes(notes: list[CatalogInputError]) -> None:
    """What a survey import kept but deserves a look (import_samples_with_notes), each flashed as a warning in the
    page's language: stored all the same, unsaid the quality report would score the map against it."""
    for note in notes:
        flash(input_error_text(note), "error")


def samples_mode() -> str:
    """A samples form's `mode`: replace the venue's survey (the default, as on the CLI) or append to it (a survey
    walked floor by floor, in one draft or several: replace would keep only the last file)."""
    mode = request.form.get("mode") or "replace"
    if mode not in ("replace", "append"):
        raise ValueError(_("Mode must be replace or append."))
    return mode


# -- drafts ---------------------------------------------------------------------------------------------


@bp.get("/<venue>/drafts")
@works_without_map
def drafts(venue: str):
    return render_template("operator/drafts.html", venue=venue, drafts=_drafts().list(venue))


@bp.post("/<venue>/drafts")
@works_without_map
def open_draft(venue: str):
    if not ID_RE.fullmatch(venue):  # an account made before ids were checked: no map could ever be applied here
        flash(_("%(v)s is no valid venue id (lower-case letters, digits, - and _), so it can have no map. Ask for an "
                "account of the venue under a valid id.", v=venue), "error")
        return drafts(venue), 400
    title = (request.form.get("title") or "").strip()
    if not 1 <= len(title) <= 80:
        flash(_("Give the draft a title of 1 to 80 characters."), "error")
        return drafts(venue), 400
    try:
        draft = _drafts().open(venue, title, by=current_account().username)
    except EditError as exc:
        flash(translate_edit_error(exc), "error")
        return drafts(venue), 400
    audit("draft.open", venue, draft=draft.id, title=title)
    return redirect(url_for("operator.draft", venue=venue, draft_id=draft.id), code=303)


@bp.get("/<venue>/drafts/<draft_id>")
@works_without_map
def draft(venue: str, draft_id: str):
    d = _draft_or_404(venue, draft_id)
    problem, diff, preview = None, {}, None
    try:
        before, preview = _drafts().preview(venue, d.id)
        diff = diff_maps(before, preview)
    except EditError as exc:
        problem = translate_edit_error(exc)
    warning = dropped_zones_warning(venue, diff["zones"]["removed"]) if diff else None
    if warning:  # said before it is applied: owners and app settings would lose their place
        flash(warning, "error")
    return render_template("operator/draft.html", venue=venue, draft=d, diff=diff, preview=preview, problem=problem,
                           notes=[step_note(step) for step in d.steps])


def step_note(step: dict[str, Any]) -> str:
    """A step's note in the page's language where it was stored with its catalog message, else as stored."""
    told = step.get("said") if isinstance(step.get("said"), dict) else {}
    template, params = told.get("template"), told.get("params")  # not in _(): the extractor reads literals there
    if isinstance(template, str) and isinstance(params, dict):
        try:
            return _(template, **params)
        except (KeyError, TypeError, ValueError):  # a translation that does not fit its values: the English
            pass
    return str(step.get("note", ""))


SKIPPED_SHOWN = 20


def skipped_aps_warning(reasons: list[CatalogInputError]) -> str | None:
    """The devices an AP list left out and why (not an AP, on no floor plan, planned only), in the page's
    language: the list is imported without them, and unsaid the operator would not know to place them by hand
    (the CLI prints them)."""
    if not reasons:
        return None
    shown = "; ".join(input_error_text(r) for r in reasons[:SKIPPED_SHOWN])
    if len(reasons) > SKIPPED_SHOWN:
        shown += "; " + _("and %(n)s more", n=len(reasons) - SKIPPED_SHOWN)
    return _("%(n)s device(s) of the AP list were left out: %(reasons)s. Place the APs among them on the map by "
             "hand, or fix the file and add it again.", n=len(reasons), reasons=shown)


def _step_failed(venue: str, draft_id: str, message: str):
    flash(message, "error")
    return draft(venue, draft_id), 400


@bp.post("/<venue>/drafts/<draft_id>/steps")
@works_without_map
def add_step(venue: str, draft_id: str):
    """One step from an upload: kind = imdf | aps | samples | walkways."""
    d = _draft_or_404(venue, draft_id)
    kind = request.form.get("kind", "")
    warning, notes = None, []
    try:
        upload = _file("file")
        if upload is None:
            raise ValueError(_("Choose a file to upload."))
        data, filename = upload
        if kind == "imdf":
            imported, notes = import_imdf_with_notes(data, venue_id=venue)
            edit, args = "merge_imported", {"imported": imported.to_dict()}
            note = imdf_note(filename, len(notes))  # imported all the same: said in the step and in full once
            warning = import_notes_warning(notes)
        elif kind == "walkways":
            plan = import_imdf(data, venue_id=venue)
            edit, args = "replace_walkways", {"nodes": [asdict(n) for n in plan.nodes],
                                              "edges": [asdict(e) for e in plan.edges]}
            note = walkways_note(filename, len(plan.nodes), len(plan.edges))
        elif kind == "aps":
            after = _drafts().preview(venue, d.id)[1]
            fmt = request.form.get("format") or None
            if fmt not in (None, "csv", "esx", "meraki", "unifi"):
                raise ValueError(_("Unknown AP list format."))
            companion = _file("companion")
            floors = parse_floor_names(request.form.get("floors", "")[:2000])
            align = parse_plan_alignment(request.form.get("align", "")[:200])
            result = read_ap_list(after, data, filename, fmt, floors=floors,
                                  companion=companion[0] if companion else None, align=align)
            edit, args = "place_aps", {"aps": result.placements}
            note = aps_note(len(result.placements), filename)
            warning = skipped_aps_warning(result.skip_reasons)
        elif kind == "samples":
            after = _drafts().preview(venue, d.id)[1]
            mode = samples_mode()
            samples, notes = import_samples_with_notes(after, data, name=filename, **samples_import_args())
            edit, args = "replace_samples", {"samples": [asdict(s) for s in samples], "mode": mode}
            note = samples_note(len(samples), filename, mode)
            warning = imported_offset_warning(after, samples)
        else:
            raise ValueError(_("Unknown kind of step."))
        _drafts().add(venue, d.id, edit, args, note)
    except EditError as exc:
        return _step_failed(venue, d.id, translate_edit_error(exc))
    except ValueError as exc:
        return _step_failed(venue, d.id, _("Nothing was added. %(e)s", e=input_error_text(exc)))
    flash(_("Added to the draft: %(note)s.", note=said(note)))
    if warning:
        flash(warning, "error")
    survey_notes(notes)
    return redirect(url_for("operator.draft", venue=venue, draft_id=d.id), code=303)


@bp.post("/<venue>/drafts/<draft_id>/apply")
@works_without_map
def apply_draft(venue: str, draft_id: str):
    d = _draft_or_404(venue, draft_id)
    try:
        version = _drafts().apply(venue, d.id)
    except EditError as exc:
        return _step_failed(venue, d.id, translate_edit_error(exc))
    except ValueError as exc:
        return _step_failed(venue, d.id, input_error_text(exc))
    flash(_("Draft applied as map version %(v)s; the model is being rebuilt.", v=version))
    # the zones the draft removed leave the map like any other (zone_release), as its page said before
    release_and_warn(venue)
    return redirect(url_for("operator.checklist_page", venue=venue), code=303)


@bp.post("/<venue>/drafts/<draft_id>/abandon")
@works_without_map
def abandon_draft(venue: str, draft_id: str):
    d = _draft_or_404(venue, draft_id)
    _drafts().abandon(venue, d.id)
    audit("draft.abandon", venue, draft=d.id)
    flash(_("Draft abandoned; the map is unchanged."))
    return redirect(url_for("operator.drafts", venue=venue), code=303)


@bp.get("/<venue>/drafts/<draft_id>/preview/<int(signed=True):level>.svg")
@works_without_map
def draft_preview(venue: str, draft_id: str, level: int):
    d = _draft_or_404(venue, draft_id)
    try:
        after = _drafts().preview(venue, d.id)[1]
        svg = overlay_svg(after, level, walkway=True)
    except (EditError, KeyError):
        abort(404, _("The draft has no such floor."))
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


@bp.get("/<venue>/aps-template.csv")
@works_without_map
def ap_template(venue: str):
    return Response(TEMPLATE_CSV, mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="aps-template.csv"'})


# -- the checklist --------------------------------------------------------------------------------------


@bp.get("/<venue>/checklist")
@works_without_map
def checklist_page(venue: str):
    svc = services()
    venue_map = svc.venues.get_map(venue)
    steps = checklist(svc, venue, venue_map, model_state(venue, svc.db))
    return render_template("operator/checklist.html", venue=venue, map=venue_map, steps=steps)


@bp.get("/<venue>/checklist/coverage/<int(signed=True):level>.svg")
@works_without_map
def coverage_svg(venue: str, level: int):
    """Reference points per cell (darker = more; red = none) and the survey route over the uncovered cells."""
    venue_map = services().venues.get_map(venue)
    if venue_map is None or not any(f.level == level for f in venue_map.floors):
        abort(404, _("The venue has no such floor."))
    fl, s = venue_map.floor(level), 8.0
    half = COVER_CELL_M * s / 2
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{fl.width_m * s:.0f}" height="{fl.height_m * s:.0f}">',
           '<rect width="100%" height="100%" fill="#fafafa"/>']
    for x, y, n in coverage_grid(venue_map, level):
        colour = "#e53935" if n == 0 else f"rgba(21,101,192,{min(1.0, 0.2 + 0.2 * n):.2f})"
        out.append(f'<rect class="cell" x="{x * s - half:.0f}" y="{y * s - half:.0f}" width="{2 * half:.0f}" '
                   f'height="{2 * half:.0f}" fill="{colour}"><title>{n}</title></rect>')
    route = survey_route(venue_map, level)
    if route:
        pts = " ".join(f"{x * s:.0f},{y * s:.0f}" for x, y in route)
        out.append(f'<polyline id="survey-route" points="{pts}" fill="none" stroke="#222" stroke-width="2" '
                   'stroke-dasharray="6 3"/>')
    out.append("</svg>")
    return Response("".join(out), mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})
