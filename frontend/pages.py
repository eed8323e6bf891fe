"""The web platform: landing page, member portal, review desk, and their error pages.

Pages call the same service layer as the JSON API, in the request's unit of work; they never
call the project's own HTTP API.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.core.errors import DomainError
from api.http.unavailable import is_database_trouble, retry_after_seconds
from frontend.i18n import language_of, translator
from frontend.routes import admin, auth, calls, desk, member, privacy
from frontend.session import LoginRequired
from frontend.web import HERE, MaybeUser, redirect, render, templates

log = logging.getLogger(__name__)

ERROR_PAGES = {403: "error_403", 404: "error_404", 503: "error_503"}


def mount_frontend(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in (auth.router, member.router, desk.router, admin.router, privacy.router, calls.router):
        app.include_router(router)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def landing(request: Request, user: MaybeUser) -> HTMLResponse:
        return render(request, request.app.state.resources, "landing.html", user=user)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _: LoginRequired) -> Response:
        return redirect("/login")

    # The API keeps its JSON errors; pages get a page in the visitor's language.
    api_domain_error = app.exception_handlers[DomainError]
    api_http_error = app.exception_handlers.get(StarletteHTTPException, http_exception_handler)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        if _wants_json(request):
            return await api_domain_error(request, exc)
        return error_page(request, exc.status_code, exc.message)

    api_database_error = app.exception_handlers[SQLAlchemyError]

    @app.exception_handler(SQLAlchemyError)
    async def database_error(request: Request, exc: SQLAlchemyError) -> Response:
        if _wants_json(request) or not is_database_trouble(exc):
            return await api_database_error(request, exc)
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        page = error_page(request, 503, None)
        page.headers["Retry-After"] = str(retry_after_seconds(request))
        return page

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_json(request):
            return await api_http_error(request, exc)
        return error_page(request, exc.status_code, None)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        if _wants_json(request):
            return JSONResponse({"detail": "Internal server error: the staff is told."}, status_code=500)
        return error_page(request, 500, None)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/healthz", "/readyz", "/docs", "/openapi"))


def error_page(request: Request, status_code: int, detail: str | None) -> HTMLResponse:
    lang = language_of(request)
    fallback = "error_400" if status_code < 500 else "error_500"
    title = translator(lang)(ERROR_PAGES.get(status_code, fallback))
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "lang": lang,
            "t": translator(lang),
            "title": title,
            "detail": detail,
            "code": status_code,
            "user": None,
        },
        status_code=status_code,
    )
