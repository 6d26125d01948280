"""Domain errors that carry their HTTP status; one handler renders them all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel


class ErrorBody(BaseModel):
    """The JSON body of every error answer."""

    code: str
    message: str


class DomainError(Exception):
    """A rule of the domain said no; subclasses set the status and a stable code."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, Any]:
        """The error as the API returns it."""
        return ErrorBody(code=self.code, message=self.message).model_dump()

    @classmethod
    def response_doc(cls) -> dict[int | str, dict[str, Any]]:
        """An entry for a route's `responses=`, so OpenAPI shows this error."""
        return {cls.status_code: {"model": ErrorBody, "description": cls.__doc__ or cls.code}}


class NotFoundError(DomainError):
    """The requested record does not exist."""

    status_code = 404
    code = "not_found"


Dependency = TypeVar("Dependency", bound=Callable[..., Any])


def raises(*errors: type[DomainError]) -> Callable[[Dependency], Dependency]:
    """Marks a dependency with the domain errors it raises (sign in first, a role it needs), so
    that every route depending on it documents them (kernel.web.document_dependency_errors)."""

    def mark(dependency: Dependency) -> Dependency:
        dependency.domain_errors = (*getattr(dependency, "domain_errors", ()), *errors)  # type: ignore[attr-defined]
        return dependency

    return mark


def errors_raised_by(dependency: Callable[..., Any]) -> tuple[type[DomainError], ...]:
    """The domain errors a dependency was marked with (`raises`)."""
    return tuple(getattr(dependency, "domain_errors", ()))
