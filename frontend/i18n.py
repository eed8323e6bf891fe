"""Every text of the pages in Italian and English, and the visitor's language."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from frontend.calls_i18n import CALL_MESSAGES

LANGUAGES = ("it", "en")
LANGUAGE_COOKIE = "cm_lang"

MESSAGES: dict[str, dict[str, str]] = {
    "app_name": {"it": "clustermatch", "en": "clustermatch"},
    "tagline": {
        "it": "Incontri tra bisogni tecnologici delle imprese e competenze dei laboratori dei Clust-ER.",
        "en": "Matching companies' technology needs with the capabilities of Clust-ER research labs.",
    },
    "how": {"it": "Come funziona", "en": "How it works"},
    "step_1": {
        "it": "Le imprese pubblicano un bisogno tecnologico, i laboratori un'offerta di competenze.",
        "en": "Companies post a technology need; labs post a capability offer.",
    },
    "step_2": {
        "it": "Il sistema confronta i testi, in italiano e in inglese, e propone gli abbinamenti migliori con le ragioni.",
        "en": "The platform compares the texts, in Italian and English, and suggests the best matches with reasons.",
    },
    "step_3": {
        "it": "I facilitatori dei cluster li rivedono; quando entrambe le parti sono interessate, vengono presentate.",
        "en": "Cluster facilitators review them; when both sides are interested, they are introduced.",
    },
    "api_docs": {"it": "API e documentazione", "en": "API and documentation"},
    "login": {"it": "Accedi", "en": "Log in"},
    "logout": {"it": "Esci", "en": "Log out"},
    "register": {"it": "Registra la tua organizzazione", "en": "Register your organisation"},
    "email": {"it": "E-mail", "en": "E-mail"},
    "password": {"it": "Password (almeno 8 caratteri)", "en": "Password (at least 8 characters)"},
    "org_name": {"it": "Nome dell'organizzazione", "en": "Organisation name"},
    "org_type": {"it": "Tipo di organizzazione", "en": "Type of organisation"},
    "city": {"it": "Città", "en": "City"},
    "clusters": {"it": "Cluster (aree S3)", "en": "Clusters (S3 areas)"},
    "no_account": {"it": "Non hai un account?", "en": "No account yet?"},
    "have_account": {"it": "Hai già un account?", "en": "Already registered?"},
    "dashboard": {"it": "La mia area", "en": "My area"},
    "desk": {"it": "Revisione", "en": "Review desk"},
    "my_postings": {"it": "Le mie pubblicazioni", "en": "My postings"},
    "no_postings": {
        "it": "Nessuna pubblicazione: inizia da un bisogno o da un'offerta.",
        "en": "Nothing posted yet: start with a need or an offer.",
    },
    "new_need": {"it": "Pubblica un bisogno", "en": "Post a need"},
    "new_offer": {"it": "Pubblica un'offerta", "en": "Post an offer"},
    "kind_need": {"it": "Bisogno", "en": "Need"},
    "kind_offer": {"it": "Offerta", "en": "Offer"},
    "state_pending": {"it": "in analisi", "en": "being analysed"},
    "state_embedded": {"it": "in abbinamento", "en": "being matched"},
    "state_matched": {"it": "abbinata", "en": "matched"},
    "state_failed": {"it": "errore: lo staff è avvisato", "en": "failed: the staff is told"},
    "suggestions": {"it": "Abbinamenti proposti", "en": "Suggested matches"},
    "no_suggestions": {"it": "Ancora nessun abbinamento approvato.", "en": "No approved match yet."},
    "score": {"it": "Punteggio", "en": "Score"},
    "nearest_scores": {
        "it": "Solo tu vedi questo: i candidati più vicini hanno ottenuto {scores}; per un suggerimento serve almeno {threshold}.",
        "en": "Only you see this: the closest candidates scored {scores}; a suggestion needs at least {threshold}.",
    },
    "nearest_none": {
        "it": "Non ci sono ancora pubblicazioni del tipo opposto con cui confrontarla.",
        "en": "There are no postings of the other kind to compare it with yet.",
    },
    "no_match_yet": {
        "it": "Nessun abbinamento per ora. La pubblicazione viene riconfrontata da sola quando la modifichi o quando arrivano nuove pubblicazioni. Cosa aiuterebbe:",
        "en": "No match yet. The posting is matched again on its own when you edit it or when new postings arrive. What would help:",
    },
    "score_means": {
        "it": "quanto è probabile che un facilitatore proponga questo incontro",
        "en": "how likely a facilitator would propose this introduction",
    },
    "open": {"it": "Apri", "en": "Open"},
    "title": {"it": "Titolo", "en": "Title"},
    "title_help": {
        "it": "Il problema o la competenza, in una riga.",
        "en": "The problem or the capability, in one line.",
    },
    "description": {"it": "Descrizione", "en": "Description"},
    "description_help": {
        "it": "Che problema, quali vincoli (materiali, volumi, norme, tempi, budget), che tipo di partner cercate.",
        "en": "What problem, which constraints (materials, volumes, rules, timing, budget), what kind of partner.",
    },
    "keywords": {"it": "Parole chiave (separate da virgole)", "en": "Keywords (comma-separated)"},
    "keywords_help": {
        "it": "3–8 parole chiave; aggiungerne in inglese aiuta a farsi trovare dai laboratori che scrivono in inglese.",
        "en": "3–8 keywords; English ones help labs writing in English find you.",
    },
    "area": {"it": "Area di specializzazione (S3)", "en": "Specialisation area (S3)"},
    "trl": {"it": "TRL (1–9, facoltativo)", "en": "TRL (1–9, optional)"},
    "trl_help": {
        "it": "Per un bisogno: il livello di maturità minimo utile; per un'offerta: il livello raggiunto.",
        "en": "For a need: the lowest useful readiness level; for an offer: the level reached.",
    },
    "publish": {"it": "Pubblica", "en": "Publish"},
    "posted": {
        "it": "Pubblicato. Lo stiamo analizzando; gli abbinamenti trovati passano dai facilitatori del cluster prima di arrivarvi.",
        "en": "Published. We are analysing it; the matches found go through the cluster's facilitators before they reach you.",
    },
    "required": {"it": "obbligatorio", "en": "required"},
    "fix_errors": {"it": "Correggi i campi evidenziati.", "en": "Please fix the highlighted fields."},
    "the_need": {"it": "Il bisogno", "en": "The need"},
    "the_offer": {"it": "L'offerta", "en": "The offer"},
    "why": {"it": "Perché questo abbinamento", "en": "Why this match"},
    "advice": {"it": "Per abbinamenti migliori", "en": "For better matches"},
    "interested": {"it": "Sono interessato", "en": "I'm interested"},
    "not_interested": {"it": "Non interessato", "en": "Not interested"},
    "reason_optional": {"it": "Motivo (facoltativo)", "en": "Reason (optional)"},
    "status_delivered": {"it": "in attesa delle risposte", "en": "waiting for answers"},
    "status_introduced": {"it": "presentati", "en": "introduced"},
    "status_declined": {"it": "non interessati", "en": "declined"},
    "status_withdrawn": {"it": "ritirato", "en": "withdrawn"},
    "status_pending_review": {"it": "in revisione", "en": "in review"},
    "status_rejected": {"it": "respinto", "en": "rejected"},
    "you_answered": {"it": "La vostra risposta", "en": "Your answer"},
    "yes": {"it": "sì", "en": "yes"},
    "no": {"it": "no", "en": "no"},
    "waiting_other": {"it": "in attesa dell'altra parte", "en": "waiting for the other side"},
    "contact": {"it": "Contatto dell'altra parte", "en": "The other side's contact"},
    "notifications": {"it": "Notifiche", "en": "Notifications"},
    "no_notifications": {"it": "Nessuna notifica.", "en": "No notifications."},
    "notice_suggestion.new": {"it": "Nuovo abbinamento proposto", "en": "New suggested match"},
    "notice_suggestion.review": {"it": "Abbinamento da rivedere", "en": "Match to review"},
    "notice_suggestion.introduced": {"it": "Siete stati presentati", "en": "You have been introduced"},
    "notice_suggestion.declined": {"it": "Abbinamento declinato", "en": "Match declined"},
    "notice_suggestion.withdrawn": {"it": "Abbinamento ritirato", "en": "Match withdrawn"},
    "desk_intro": {
        "it": "Abbinamenti in attesa per i tuoi cluster: approvali per inviarli alle due parti, o respingili con una nota.",
        "en": "Matches waiting for your clusters: approve to send them to both parties, or reject with a note.",
    },
    "desk_keys": {
        "it": "Tastiera: j/k per spostarsi, x per selezionare, a per approvare i selezionati, r per scrivere la nota e respingere.",
        "en": "Keyboard: j/k to move, x to select, a to approve the selected, r to write the note and reject.",
    },
    "desk_empty": {"it": "Nessun abbinamento in attesa.", "en": "Nothing waiting for review."},
    "paced": {"it": "In coda per il limite giornaliero", "en": "Queued by the daily limit"},
    "paced_intro": {
        "it": "Abbinamenti validi che partiranno appena l'organizzazione avrà spazio nel suo limite giornaliero, i migliori per primi.",
        "en": "Good matches that go out as soon as the organisation has room in its daily limit, best first.",
    },
    "asking_same": {
        "it": "{count} aziende chiedono la stessa offerta",
        "en": "{count} companies ask for the same offer",
    },
    "approve": {"it": "Approva", "en": "Approve"},
    "reject": {"it": "Respingi", "en": "Reject"},
    "note": {"it": "Nota (obbligatoria per respingere)", "en": "Note (required to reject)"},
    "select": {"it": "Seleziona", "en": "Select"},
    "with_selected": {"it": "Con i selezionati:", "en": "With the selected:"},
    "reviewed": {"it": "{count} abbinamenti rivisti.", "en": "{count} matches reviewed."},
    "note_required": {
        "it": "Per respingere serve una nota (almeno 3 caratteri).",
        "en": "Rejecting needs a note (3+ characters).",
    },
    "nothing_selected": {"it": "Nessun abbinamento selezionato.", "en": "No match selected."},
    "unknown_action": {
        "it": "Azione sconosciuta: scegli Approva o Rifiuta. Nulla è stato cambiato.",
        "en": "Unknown action: choose Approve or Reject. Nothing was changed.",
    },
    "identity_hidden": {
        "it": "Organizzazione anonima fino al reciproco interesse",
        "en": "Organisation kept anonymous until both sides are interested",
    },
    "error_400": {"it": "Richiesta non valida", "en": "Invalid request"},
    "error_404": {"it": "Pagina non trovata", "en": "Page not found"},
    "error_403": {"it": "Non hai accesso a questa pagina", "en": "You cannot open this page"},
    "error_500": {
        "it": "Qualcosa è andato storto: riprova tra poco",
        "en": "Something went wrong: try again shortly",
    },
    "error_503": {
        "it": "Il servizio è momentaneamente occupato: nulla è stato salvato, riprova tra qualche secondo",
        "en": "The service is busy for a moment: nothing was saved, try again in a few seconds",
    },
    "back_home": {"it": "Torna alla tua area", "en": "Back to your area"},
    "language": {"it": "English", "en": "Italiano"},
    "profile": {"it": "Profilo", "en": "Profile"},
    "organisation_profile": {"it": "Profilo dell'organizzazione", "en": "Organisation profile"},
    "contact_email": {
        "it": "E-mail di contatto (mostrata all'altra parte quando siete presentati)",
        "en": "Contact e-mail (shown to the other side once you are introduced)",
    },
    "admin": {"it": "Amministrazione", "en": "Administration"},
    "dead_letters": {"it": "Lavori falliti", "en": "Failed jobs"},
    "dead_letters_help": {
        "it": "Lavori che hanno esaurito i tentativi. «Riprova» li rimette in coda (sono idempotenti).",
        "en": "Jobs that used up their retries. \u201cRetry\u201d queues them again (they are idempotent).",
    },
    "dead_letters_count": {"it": "{count} lavori falliti", "en": "{count} failed jobs"},
    "dead_letters_none": {"it": "Nessun lavoro fallito.", "en": "No failed jobs."},
    "dead_letters_unavailable": {
        "it": "Redis non risponde: elenco non disponibile.",
        "en": "Redis does not answer: the list is unavailable.",
    },
    "dead_letters_retried": {"it": "{count} lavori rimessi in coda.", "en": "{count} jobs queued again."},
    "retry": {"it": "Riprova", "en": "Retry"},
    "retry_all": {"it": "Riprova tutti", "en": "Retry all"},
    "job": {"it": "Lavoro", "en": "Job"},
    "job_subject": {"it": "Riguarda", "en": "About"},
    "last_error": {"it": "Ultimo errore", "en": "Last error"},
    "failed_at": {"it": "Fallito il", "en": "Failed at"},
    "review_policies": {"it": "Revisione per cluster", "en": "Review per cluster"},
    "review_policies_help": {
        "it": "Vuoto: ogni abbinamento passa dai facilitatori. Un punteggio (es. 0.9): quelli pari o superiori partono subito.",
        "en": "Empty: every match goes through the facilitators. A score (e.g. 0.9): those at or above it go out directly.",
    },
    "always_review": {"it": "sempre in revisione", "en": "always reviewed"},
    "users": {"it": "Utenti e ruoli", "en": "Users and roles"},
    "organisations": {"it": "Organizzazioni", "en": "Organisations"},
    "cluster_dashboard": {"it": "Cruscotto del cluster", "en": "Cluster dashboard"},
    "funnel": {"it": "Dalle pubblicazioni alle presentazioni", "en": "From postings to introductions"},
    "funnel_postings": {"it": "Pubblicazioni", "en": "Postings"},
    "funnel_suggestions": {"it": "Abbinamenti proposti", "en": "Suggested matches"},
    "funnel_approved": {"it": "Approvati e inviati", "en": "Approved and sent"},
    "funnel_introduced": {"it": "Entrambi interessati", "en": "Both interested"},
    "median_first": {"it": "Tempo mediano al primo abbinamento", "en": "Median time to the first match"},
    "unmet_demand": {
        "it": "Bisogni senza un'offerta adatta, per area",
        "en": "Needs without a good offer, by area",
    },
    "cross_cluster": {"it": "Abbinamenti tra cluster diversi", "en": "Matches across clusters"},
    "export_csv": {"it": "Esporta CSV", "en": "Export CSV"},
    "none": {"it": "Nessuno.", "en": "None."},
    "email_frequency": {"it": "E-mail di notifica", "en": "Notification e-mails"},
    "frequency_instant": {"it": "subito, una per evento", "en": "instant, one per event"},
    "frequency_daily": {"it": "un riepilogo al giorno", "en": "one daily digest"},
    "frequency_off": {"it": "mai", "en": "never"},
    "language_choice": {"it": "Lingua", "en": "Language"},
    "save": {"it": "Salva", "en": "Save"},
    "saved": {"it": "Salvato.", "en": "Saved."},
    # Privacy: export, erasure, audit log.
    "privacy": {"it": "I dati dell'organizzazione", "en": "Your organisation's data"},
    "export_help": {
        "it": "Scarica in un file JSON tutto ciò che la piattaforma conserva della tua organizzazione.",
        "en": "Download everything the platform holds of your organisation as one JSON file.",
    },
    "export_data": {"it": "Scarica i dati (JSON)", "en": "Download the data (JSON)"},
    "delete_organisation": {"it": "Elimina l'organizzazione", "en": "Delete the organisation"},
    "delete_help": {
        "it": "Cancella per sempre l'organizzazione, le sue pubblicazioni, gli abbinamenti, le notifiche e tutti i suoi account. Le controparti vedranno gli abbinamenti come ritirati. Scrivi il nome esatto dell'organizzazione per confermare.",
        "en": "Erases the organisation for good: its postings, matches, notifications and every account. Counterparts will see the matches as withdrawn. Type the organisation's exact name to confirm.",
    },
    "delete_confirm": {
        "it": "Nome dell'organizzazione, per conferma",
        "en": "The organisation's name, to confirm",
    },
    "delete_forever": {"it": "Elimina per sempre", "en": "Delete for good"},
    "organisation_deleted": {"it": "Organizzazione eliminata.", "en": "Organisation deleted."},
    "audit_log": {"it": "Registro delle attività", "en": "Audit log"},
    "audit_help": {
        "it": "Decisioni dei facilitatori, cambi di ruolo e di revisione, esportazioni e cancellazioni: chi, cosa, quando, da dove.",
        "en": "Facilitator decisions, role and review-policy changes, exports and deletions: who, what, when, from where.",
    },
    "audit_action": {"it": "Azione", "en": "Action"},
    "audit_all_actions": {"it": "Tutte le azioni", "en": "All actions"},
    "audit_filter": {"it": "Filtra", "en": "Filter"},
    "audit_when": {"it": "Quando", "en": "When"},
    "audit_who": {"it": "Chi", "en": "Who"},
    "audit_object": {"it": "Oggetto", "en": "Object"},
    "audit_from": {"it": "Da (IP)", "en": "From (IP)"},
    "audit_page": {
        "it": "Pagina {page} di {pages} ({total} eventi)",
        "en": "Page {page} of {pages} ({total} events)",
    },
    "audit_newer": {"it": "← Più recenti", "en": "← Newer"},
    "audit_older": {"it": "Meno recenti →", "en": "Older →"},
    "audit_suggestion.approve": {"it": "abbinamento approvato", "en": "suggestion approved"},
    "audit_suggestion.reject": {"it": "abbinamento respinto", "en": "suggestion rejected"},
    "audit_user.role_change": {"it": "ruolo cambiato", "en": "role changed"},
    "audit_cluster.policy_change": {
        "it": "revisione del cluster cambiata",
        "en": "cluster review policy changed",
    },
    "audit_organisation.export": {"it": "dati esportati", "en": "data exported"},
    "audit_organisation.delete": {"it": "organizzazione eliminata", "en": "organisation deleted"},
    # Accounts: passwords, reset, rate limits, disabled users.
    "wrong_credentials": {"it": "E-mail o password errate.", "en": "Wrong e-mail or password."},
    "account_disabled": {
        "it": "Questo account è disattivato: chiedi all'amministratore della piattaforma.",
        "en": "This account is disabled: ask the platform's administrator.",
    },
    "too_many_attempts": {
        "it": "Troppi tentativi: aspetta {seconds} secondi e riprova.",
        "en": "Too many attempts: wait {seconds} seconds, then try again.",
    },
    "email_taken": {
        "it": "Questo indirizzo non può essere usato per un nuovo account: se è tuo, accedi o reimposta la password.",
        "en": "This e-mail address cannot be used for a new account: if it is yours, log in or reset the password.",
    },
    "forgot_password": {"it": "Password dimenticata?", "en": "Forgot your password?"},
    "forgot_password_help": {
        "it": "Scrivi l'e-mail del tuo account: ti mandiamo un link per sceglierne una nuova.",
        "en": "Type your account's e-mail: we send you a link to choose a new password.",
    },
    "send_reset_link": {"it": "Mandami il link", "en": "Send me the link"},
    "reset_sent": {
        "it": "Se un account ha questo indirizzo, il link per reimpostare la password sta arrivando (vale {minutes} minuti).",
        "en": "If an account has this e-mail address, a link to reset its password is on its way (valid {minutes} minutes).",
    },
    "reset_password": {"it": "Scegli una nuova password", "en": "Choose a new password"},
    "reset_link_invalid": {
        "it": "Questo link non è valido, è scaduto o è già stato usato: chiedine uno nuovo.",
        "en": "This link is invalid, expired or already used: ask for a new one.",
    },
    "reset_done": {
        "it": "Password cambiata: accedi con quella nuova.",
        "en": "Password changed: log in with the new one.",
    },
    "change_password": {"it": "Cambia password", "en": "Change password"},
    "current_password": {"it": "Password attuale", "en": "Current password"},
    "new_password": {
        "it": "Nuova password (almeno 8 caratteri)",
        "en": "New password (at least 8 characters)",
    },
    "password_change_help": {
        "it": "Cambiandola, chiudi tutte le altre sessioni aperte con il tuo account.",
        "en": "Changing it ends every other session open with your account.",
    },
    "password_changed": {
        "it": "Password cambiata: le altre sessioni sono state chiuse.",
        "en": "Password changed: your other sessions were ended.",
    },
    "password_error_wrong": {
        "it": "La password attuale non è giusta: riscrivila.",
        "en": "The current password is not right: type it again.",
    },
    "password_error_limited": {
        "it": "Troppi tentativi con la password attuale: riprova tra qualche minuto.",
        "en": "Too many tries of the current password: try again in a few minutes.",
    },
    "password_error_short": {
        "it": "La nuova password deve avere almeno 8 caratteri.",
        "en": "The new password must have at least 8 characters.",
    },
    "disable_user": {"it": "Disattiva", "en": "Disable"},
    "enable_user": {"it": "Riattiva", "en": "Enable"},
    "user_disabled": {"it": "disattivato", "en": "disabled"},
}
MESSAGES.update(CALL_MESSAGES)  # the funding calls' texts, kept in their own module


def language_of(request: Request) -> str:
    """The visitor's choice (cookie), else the browser's Accept-Language, else Italian."""
    chosen = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip()[:2].lower()
        if code in LANGUAGES:
            return code
    return "it"


def translator(lang: str) -> Callable[..., str]:
    def t(key: str, **params: object) -> str:
        text = MESSAGES.get(key, {}).get(lang) or key
        return text.format(**params) if params else text

    return t
