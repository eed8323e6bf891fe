"""The text of the e-mails, in the recipient's language (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    body: str
    notification_ids: tuple[int, ...]


SUBJECTS = {
    "suggestion.new": {"it": "Nuovo abbinamento proposto: {title}", "en": "New suggested match: {title}"},
    "suggestion.review": {"it": "Abbinamento da rivedere: {title}", "en": "Match to review: {title}"},
    "suggestion.introduced": {
        "it": "Siete stati presentati: {title}",
        "en": "You have been introduced: {title}",
    },
    "suggestion.declined": {"it": "Abbinamento declinato: {title}", "en": "Match declined: {title}"},
    "suggestion.withdrawn": {"it": "Abbinamento ritirato: {title}", "en": "Match withdrawn: {title}"},
}
OPEN_LINK = {"it": "Apri su clustermatch: {url}", "en": "Open on clustermatch: {url}"}
DIGEST_SUBJECT = {"it": "clustermatch: {count} novità di oggi", "en": "clustermatch: {count} updates today"}
FOOTER = {
    "it": "Ricevi questa e-mail perché sei iscritto a clustermatch. Scegli la frequenza (subito, riepilogo quotidiano, mai) nel tuo profilo: {url}/app/profile",
    "en": "You receive this e-mail as a clustermatch member. Choose how often (instant, daily digest, never) in your profile: {url}/app/profile",
}


def _title(payload: dict[str, Any]) -> str:
    need, offer = payload.get("need", {}), payload.get("offer", {})
    return f"{need.get('title', '')} ↔ {offer.get('title', '')}".strip(" ↔")


def _link(kind: str, payload: dict[str, Any], base_url: str) -> str:
    if kind == "suggestion.review":
        return f"{base_url}/desk"
    return f"{base_url}/app/suggestions/{payload.get('suggestion_id', '')}"


def _lines(kind: str, payload: dict[str, Any], lang: str, base_url: str) -> list[str]:
    summary = payload.get("summary", {}).get(lang, "")
    lines = [SUBJECTS.get(kind, {}).get(lang, kind).format(title=_title(payload))]
    if summary:
        lines.append(summary)
    contact = payload.get("contact")
    if contact:
        lines.append(f"{contact.get('organisation', '')} · {contact.get('email', '')}")
    lines.append(OPEN_LINK[lang].format(url=_link(kind, payload, base_url)))
    return lines


def notification_email(
    to: str, notification_id: int, kind: str, payload: dict[str, Any], lang: str, base_url: str
) -> Email:
    lang = lang if lang in ("it", "en") else "it"
    subject = SUBJECTS.get(kind, {}).get(lang, kind).format(title=_title(payload))
    body = "\n\n".join([*_lines(kind, payload, lang, base_url), FOOTER[lang].format(url=base_url)])
    return Email(to, subject, body, (notification_id,))


def digest_email(
    to: str, items: Sequence[tuple[int, str, dict[str, Any]]], lang: str, base_url: str
) -> Email:
    """One e-mail for a day's notifications: (id, kind, payload) each."""
    lang = lang if lang in ("it", "en") else "it"
    sections = ["\n".join(_lines(kind, payload, lang, base_url)) for _, kind, payload in items]
    body = "\n\n---\n\n".join(sections) + "\n\n" + FOOTER[lang].format(url=base_url)
    return Email(to, DIGEST_SUBJECT[lang].format(count=len(items)), body, tuple(i for i, _, _ in items))
