"""Who may do what with a report or an alert, in one place."""

from __future__ import annotations

from cityhub_sdk.auth import ROLE_DEPARTMENT, ROLE_OPERATOR, ROLE_RESIDENT, ROLE_SERVICE, ROLE_STAFF, Caller
from cityhub_sdk.errors import InvalidArgument, PermissionDenied, Unauthenticated

PEOPLE = (ROLE_RESIDENT, ROLE_STAFF, ROLE_OPERATOR)


def person_id(caller: Caller) -> str | None:
    """The account id of a signed-in person (department systems and services are nobody's account)."""
    return caller.subject if caller.role in PEOPLE and caller.subject else None


def require_person(caller: Caller) -> str:
    account_id = person_id(caller)
    if account_id is None:
        raise Unauthenticated("sign-in required")
    return account_id


def can_manage(caller: Caller, department: str) -> bool:
    """Operators manage everything; staff and department systems only their own department."""
    if caller.role in (ROLE_OPERATOR, ROLE_SERVICE):
        return True
    return caller.role in (ROLE_STAFF, ROLE_DEPARTMENT) and bool(caller.department) and caller.department == department


def require_staff(caller: Caller) -> None:
    if not caller.is_authenticated:
        raise Unauthenticated("sign-in required")
    if caller.role not in (ROLE_STAFF, ROLE_OPERATOR, ROLE_DEPARTMENT, ROLE_SERVICE):
        raise PermissionDenied("staff only")


def staff_department(caller: Caller, requested: str) -> str:
    """The department a staff action applies to: their own, or any an operator names."""
    require_staff(caller)
    if caller.role in (ROLE_OPERATOR, ROLE_SERVICE):
        if not requested:
            raise InvalidArgument("department is required")
        return requested
    if not caller.department:
        raise PermissionDenied("no department on this account")
    if requested and requested != caller.department:
        raise PermissionDenied("not your department")
    return caller.department


def listing_department(caller: Caller, requested: str) -> str | None:
    """The department a report listing is limited to: staff and department systems always their own
    (naming another is refused), everyone else the one they name, or none (all departments)."""
    if caller.role in (ROLE_STAFF, ROLE_DEPARTMENT):
        if not caller.department:
            raise PermissionDenied("no department on this account")
        if requested and requested != caller.department:
            raise PermissionDenied("not your department")
        return caller.department
    return requested or None


def require_manager(caller: Caller, department: str) -> None:
    """Staff work (private views, status, notes, merges) is for whoever manages the department."""
    require_staff(caller)
    if not can_manage(caller, department):
        raise PermissionDenied("not your department")
