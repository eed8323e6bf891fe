"""The text of the e-mails, in the recipient's language (pure functions)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Header values are one line: CR/LF would end the header (or inject another), other control
# characters make the message invalid. Postings are member text, so every header is cleaned.
_UNSAFE_IN_HEADER = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
HEADER_MAX = 200


def header_safe(value: str, *, limit: int = HEADER_MAX) -> str:
    """One clean line: control characters become spaces, runs of spaces one, at most limit chars."""
    line = " ".join(_UNSAFE_IN_HEADER.sub(" ", value).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    body: str
    notification_ids: tuple[int, ...]
    # Stable per delivery (or digest): the Message-ID, so a repeat after a crash is recognisable.
    key: str = ""


SUBJECTS = {
    "suggestion.new": {"it": "Nuovo abbinamento proposto: {title}", "en": "New suggested match: {title}"},
    "suggestion.review": {"it": "Abbinamento da rivedere: {title}", "en": "Match to review: {title}"},
    "suggestion.introduced": {
        "it": "Siete stati presentati: {title}",
        "en": "You have been introduced: {title}",
    },
    "suggestion.declined": {"it": "Abbinamento declinato: {title}", "en": "Match declined: {title}"},
    "suggestion.withdrawn": {"it": "Abbinamento ritirato: {title}", "en": "Match withdrawn: {title}"},
    # Funding calls (api/calls): the payload carries its own title and page path.
    "call.fit": {"it": "Un bando adatto a te: {title}", "en": "A call that fits you: {title}"},
    "call.reminder": {"it": "Scadenza in arrivo: {title}", "en": "Deadline approaching: {title}"},
    "call.weekly": {
        "it": "Bandi adatti a te questa settimana: {title}",
        "en": "Calls that fit you this week: {title}",
    },
    "consortium.review": {"it": "Consorzio da rivedere: {title}", "en": "Consortium to review: {title}"},
    "consortium.invitation": {
        "it": "Invito in un consorzio: {title}",
        "en": "Invitation to a consortium: {title}",
    },
    "consortium.joined": {"it": "Un partner ha accettato: {title}", "en": "A partner accepted: {title}"},
}
OPEN_LINK = {"it": "Apri su clustermatch: {url}", "en": "Open on clustermatch: {url}"}
DIGEST_SUBJECT = {"it": "clustermatch: {count} novità di oggi", "en": "clustermatch: {count} updates today"}
REVIEW_GROUP_SUBJECT = {
    "it": "clustermatch: {count} abbinamenti da rivedere",
    "en": "clustermatch: {count} matches waiting for review",
}
REVIEW_GROUP_INTRO = {
    "it": "Questi abbinamenti aspettano la revisione di un facilitatore: {url}/desk",
    "en": "These matches are waiting for a facilitator's review: {url}/desk",
}
FOOTER = {
    "it": "Ricevi questa e-mail perché sei iscritto a clustermatch. Scegli la frequenza (subito, riepilogo quotidiano, mai) nel tuo profilo: {url}/app/profile",
    "en": "You receive this e-mail as a clustermatch member. Choose how often (instant, daily digest, never) in your profile: {url}/app/profile",
}
REVIEW = "suggestion.review"


def _title(payload: dict[str, Any]) -> str:
    if "need" not in payload and "title" in payload:
        return str(payload["title"])
    need, offer = payload.get("need", {}), payload.get("offer", {})
    return f"{need.get('title', '')} ↔ {offer.get('title', '')}".strip(" ↔")


def _link(kind: str, payload: dict[str, Any], base_url: str) -> str:
    if kind == REVIEW:
        return f"{base_url}/desk"
    if "path" in payload:
        return f"{base_url}{payload['path']}"
    return f"{base_url}/app/suggestions/{payload.get('suggestion_id', '')}"


def _lines(kind: str, payload: dict[str, Any], lang: str, base_url: str) -> list[str]:
    summary = payload.get("summary", {}).get(lang, "")
    lines = [header_safe(SUBJECTS.get(kind, {}).get(lang, kind).format(title=_title(payload)), limit=500)]
    if summary:
        lines.append(summary)
    contact = payload.get("contact")
    if contact:
        lines.append(f"{contact.get('organisation', '')} · {contact.get('email', '')}")
    lines.append(OPEN_LINK[lang].format(url=_link(kind, payload, base_url)))
    return lines


def notification_email(
    to: str, notification_id: int, kind: str, payload: dict[str, Any], lang: str, base_url: str, key: str = ""
) -> Email:
    lang = lang if lang in ("it", "en") else "it"
    subject = header_safe(SUBJECTS.get(kind, {}).get(lang, kind).format(title=_title(payload)))
    body = "\n\n".join([*_lines(kind, payload, lang, base_url), FOOTER[lang].format(url=base_url)])
    return Email(to, subject, body, (notification_id,), key)


def digest_email(
    to: str, items: Sequence[tuple[int, str, dict[str, Any]]], lang: str, base_url: str, key: str = ""
) -> Email:
    """One e-mail for several notifications, (id, kind, payload) each: the daily digest, or the
    grouped mail of a facilitator's waiting reviews when every item is a review."""
    lang = lang if lang in ("it", "en") else "it"
    sections = ["\n".join(_lines(kind, payload, lang, base_url)) for _, kind, payload in items]
    reviews_only = bool(items) and all(kind == REVIEW for _, kind, _ in items)
    if reviews_only:
        subject = REVIEW_GROUP_SUBJECT[lang].format(count=len(items))
        sections.insert(0, REVIEW_GROUP_INTRO[lang].format(url=base_url))
    else:
        subject = DIGEST_SUBJECT[lang].format(count=len(items))
    body = "\n\n---\n\n".join(sections) + "\n\n" + FOOTER[lang].format(url=base_url)
    return Email(to, subject, body, tuple(i for i, _, _ in items), key)
