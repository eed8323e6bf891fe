from api.mail.compose import digest_email, notification_email

PAYLOAD = {
    "suggestion_id": 7,
    "need": {"title": "Controllo qualità ingranaggi"},
    "offer": {"title": "Machine vision lab"},
    "summary": {"it": "Punteggio 0.91", "en": "Score 0.91"},
}


def test_each_recipient_reads_the_mail_in_their_language_with_a_link():
    italian = notification_email("a@example.it", 1, "suggestion.new", PAYLOAD, "it", "https://cm.example.it")
    english = notification_email("b@example.it", 2, "suggestion.new", PAYLOAD, "en", "https://cm.example.it")
    assert italian.subject == "Nuovo abbinamento proposto: Controllo qualità ingranaggi ↔ Machine vision lab"
    assert english.subject.startswith("New suggested match:")
    assert "Punteggio 0.91" in italian.body and "https://cm.example.it/app/suggestions/7" in italian.body
    assert "Score 0.91" in english.body and "/app/profile" in english.body


def test_facilitators_are_sent_to_the_desk_and_a_digest_lists_the_day():
    review = notification_email("f@example.it", 3, "suggestion.review", PAYLOAD, "it", "http://x")
    assert review.subject.startswith("Abbinamento da rivedere") and "http://x/desk" in review.body
    digest = digest_email(
        "a@example.it",
        [(4, "suggestion.new", PAYLOAD), (5, "suggestion.withdrawn", PAYLOAD)],
        "en",
        "http://x",
    )
    assert digest.subject == "clustermatch: 2 updates today" and digest.notification_ids == (4, 5)
    assert "Match withdrawn" in digest.body
