"""The landing page (the member portal and review desk come with the web platform)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

TEXTS = {
    "it": {
        "tagline": "Incontri tra bisogni tecnologici delle imprese e competenze dei laboratori dei Clust-ER.",
        "how": "Come funziona",
        "steps": [
            "Le imprese pubblicano un bisogno tecnologico, i laboratori un'offerta di competenze.",
            "Il sistema confronta i testi, in italiano e in inglese, e propone gli abbinamenti migliori con le ragioni.",
            "I facilitatori dei cluster li rivedono; quando entrambe le parti sono interessate, vengono presentate.",
        ],
        "api": "API e documentazione",
    },
    "en": {
        "tagline": "Matching companies' technology needs with the capabilities of Clust-ER research labs.",
        "how": "How it works",
        "steps": [
            "Companies post a technology need; labs post a capability offer.",
            "The platform compares the texts, in Italian and English, and suggests the best matches with reasons.",
            "Cluster facilitators review them; when both sides are interested, they are introduced.",
        ],
        "api": "API and documentation",
    },
}


def pick_language(request: Request) -> str:
    chosen = request.query_params.get("lang")
    if chosen in TEXTS:
        return chosen
    header = request.headers.get("accept-language", "")
    for part in header.split(","):
        code = part.split(";")[0].strip()[:2].lower()
        if code in TEXTS:
            return code
    return "it"


def mount_frontend(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def landing(request: Request) -> HTMLResponse:
        lang = pick_language(request)
        return templates.TemplateResponse(request, "landing.html", {"lang": lang, "t": TEXTS[lang]})
