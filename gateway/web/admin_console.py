"""`/admin`: the admin console. Stores and their POS keys (a new key is shown once, on the page
that issued it, and kept nowhere), staff accounts, and the audit trail of what staff did.

The same client calls as the JSON API's admin routes (`gateway/blueprints/admin.py`,
`pos_keys.py`, `staff.py`), with the signed-in admin as their actor.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, request

from gateway.clients import clients
from gateway.clients.identity import IdentityClient
from gateway.import_jobs import ImportJobs, ImportRunning, ImportUnavailable
from gateway.member_import import COLUMNS, bad_rows_csv
from gateway.problems import Problem
from gateway.web import pages
from gateway.web.console import notice, problem_text, signed_in_staff
from gateway.web.forms import field
from gateway.web.staff_pages import room_guard, staff_page, with_names

bp = Blueprint("admin_console", __name__)
bp.before_request(pages.csrf_guard)
bp.before_request(room_guard("admin", "admin.forbidden"))

HOME = "/admin"
STORES = f"{HOME}/stores"
STAFF = f"{HOME}/staff"
AUDIT = f"{HOME}/audit"
IMPORT = f"{HOME}/import"
ROLES = ("support", "marketer", "admin")
# The rotation grace a form offers first, and the longest the service accepts.
DEFAULT_GRACE_HOURS = 24
MAX_GRACE_HOURS = 30 * 24
AUDIT_LINES = 200


@bp.errorhandler(Problem)
def _failed_page(problem: Problem) -> Response:
    if problem.status == 404:
        return pages.error_page(404, "admin.not_found", HOME)
    if problem.status >= 500:
        return pages.error_page(problem.status, "error.unavailable", HOME)
    return pages.error_page(problem.status, "console.failed", HOME)


def actor() -> str:
    caller = signed_in_staff()
    assert caller is not None  # the room's guard let them in
    return caller.actor


def identity() -> IdentityClient:
    return clients().identity


def refused(problem: Problem) -> None:
    """A refusal the admin can fix (a taken e-mail, a short password) as a notice."""
    if problem.status >= 500:
        raise problem
    notice("error", text=problem_text(problem))


@bp.get(HOME)
def home() -> Response:
    return staff_page(
        "admin.html",
        stores=identity().stores(),
        staff=identity().staff(),
        roles=ROLES,
        program=clients().points.program(),
    )


@bp.post(STORES)
def create_store() -> Response:
    try:
        store = identity().create_store(request.form.get("name", ""), actor())
    except Problem as problem:
        refused(problem)
        return redirect(HOME, 303)
    notice("ok", "admin.store_created")
    return redirect(f"{STORES}/{store['id']}", 303)


@bp.post(f"{STORES}/<store_id>/name")
def rename_store(store_id: str) -> Response:
    try:
        identity().rename_store(store_id, request.form.get("name", ""), actor())
    except Problem as problem:
        refused(problem)
    else:
        notice("ok", "admin.store_renamed")
    return redirect(f"{STORES}/{store_id}", 303)


@bp.post(f"{STORES}/<store_id>/close")
def close_store(store_id: str) -> Response:
    _store, revoked = identity().close_store(store_id, actor())
    for key_hash in revoked:
        current_app.extensions["pos_keys"].forget(key_hash)
    notice("ok", "admin.store_closed")
    return redirect(f"{STORES}/{store_id}", 303)


def store_page(store_id: str, status: int = 200, **context: object) -> Response:
    store = next((s for s in identity().stores() if s["id"] == store_id), None)
    if store is None:
        raise Problem(404, "store-not-found", "no such store")
    return staff_page(
        "admin_store.html",
        status,
        store=store,
        keys=identity().api_keys(store_id),
        grace_hours=DEFAULT_GRACE_HOURS,
        max_grace_hours=MAX_GRACE_HOURS,
        **context,
    )


@bp.get(f"{STORES}/<store_id>")
def store(store_id: str) -> Response:
    return store_page(store_id)


@bp.post(f"{STORES}/<store_id>/keys")
def issue_key(store_id: str) -> Response:
    issued = identity().create_api_key(store_id, actor())
    return store_page(store_id, 201, new_key=issued, notice=None)


@bp.post(f"{STORES}/<store_id>/keys/<key_id>/rotate")
def rotate_key(store_id: str, key_id: str) -> Response:
    hours = field("grace_hours")
    if not hours.isdecimal() or int(hours) > MAX_GRACE_HOURS:
        notice("error", "admin.grace_hours", most=MAX_GRACE_HOURS)
        return redirect(f"{STORES}/{store_id}", 303)
    try:
        rotated, replaced_hash = identity().rotate_api_key(
            store_id, key_id, int(hours) * 3600, actor()
        )
    except Problem as problem:
        refused(problem)
        return redirect(f"{STORES}/{store_id}", 303)
    current_app.extensions["pos_keys"].forget(replaced_hash)
    return store_page(store_id, 201, new_key=rotated, notice=None)


@bp.post(f"{STORES}/<store_id>/keys/<key_id>/revoke")
def revoke_key(store_id: str, key_id: str) -> Response:
    _key, key_hash = identity().revoke_api_key(store_id, key_id, actor())
    current_app.extensions["pos_keys"].forget(key_hash)
    notice("ok", "admin.key_revoked")
    return redirect(f"{STORES}/{store_id}", 303)


@bp.post(STAFF)
def create_staff() -> Response:
    role = field("role")
    if role not in ROLES:
        notice("error", "admin.role")
        return redirect(HOME, 303)
    try:
        # The password exactly as typed: no digit folding, no trimming.
        identity().create_staff(field("email"), request.form.get("password", ""), role, actor())
    except Problem as problem:
        refused(problem)
        return redirect(HOME, 303)
    notice("ok", "admin.staff_created")
    return redirect(HOME, 303)


@bp.post(f"{STAFF}/<staff_id>/role")
def change_role(staff_id: str) -> Response:
    role = field("role")
    if role not in ROLES:
        notice("error", "admin.role")
        return redirect(HOME, 303)
    identity().change_staff(staff_id, actor(), role=role)
    notice("ok", "admin.staff_changed")
    return redirect(HOME, 303)


@bp.post(f"{STAFF}/<staff_id>/password")
def reset_password(staff_id: str) -> Response:
    try:
        # The password exactly as typed: no digit folding, no trimming.
        identity().change_staff(staff_id, actor(), password=request.form.get("password", ""))
    except Problem as problem:
        refused(problem)
        return redirect(HOME, 303)
    notice("ok", "admin.staff_changed")
    return redirect(HOME, 303)


@bp.post(f"{STAFF}/<staff_id>/sign-out")
def sign_out_everywhere(staff_id: str) -> Response:
    identity().change_staff(staff_id, actor(), sign_out=True)
    notice("ok", "admin.staff_signed_out")
    return redirect(HOME, 303)


@bp.post(f"{STAFF}/<staff_id>/<any(disable, enable):change>")
def set_disabled(staff_id: str, change: str) -> Response:
    identity().set_staff_disabled(staff_id, change == "disable", actor())
    notice("ok", f"admin.staff_{change}d")
    return redirect(HOME, 303)


@bp.get(AUDIT)
def audit() -> Response:
    return staff_page(
        "admin_audit.html", trail=with_names(identity().staff_actions("", AUDIT_LINES))
    )


def member_imports() -> ImportJobs:
    return current_app.extensions["member_imports"]


@bp.get(IMPORT)
def import_page() -> Response:
    return staff_page("admin_import.html", job=member_imports().last(), columns=COLUMNS)


@bp.post(IMPORT)
def start_import() -> Response:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        notice("error", "admin.import_no_file")
        return redirect(IMPORT, 303)
    try:
        member_imports().start(
            upload.stream, upload.filename, bool(request.form.get("dry_run")), actor()
        )
    except ImportRunning:
        notice("error", "admin.import_running")
    except ImportUnavailable:
        notice("error", "admin.import_unavailable")
    return redirect(IMPORT, 303)


@bp.get(f"{IMPORT}/bad-rows.csv")
def bad_rows() -> Response:
    found = member_imports().bad_rows()
    if found is None:
        return pages.error_page(404, "admin.not_found", IMPORT)
    return Response(
        bad_rows_csv(found),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="bad-rows.csv"'},
    )
