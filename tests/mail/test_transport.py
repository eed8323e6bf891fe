from email import message_from_bytes, policy

import pytest

from api.core.settings import Settings
from api.mail.compose import Email
from api.mail.transport import OutboxTransport, SmtpTransport, recipient_key, to_message, transport_for


def test_without_smtp_mails_land_in_the_outbox_as_eml_files(tmp_path):
    transport = transport_for(Settings(data_dir=tmp_path))
    assert isinstance(transport, OutboxTransport)
    transport.send(to_message(Email("a@example.it", "Oggetto è", "Corpo", (1,)), "cm <noreply@example.it>"))
    [path] = (tmp_path / "outbox").glob("*.eml")
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"] == "a@example.it" and message["Subject"] == "Oggetto è"


def test_smtp_urls_are_checked_with_a_clear_message():
    transport = SmtpTransport("smtps://user%40x:p%40ss@mail.example.it")
    assert (transport.host, transport.port, transport.user, transport.password) == (
        "mail.example.it",
        465,
        "user@x",
        "p@ss",
    )
    with pytest.raises(ValueError, match="smtp://user:password@host:587"):
        SmtpTransport("http://mail.example.it")


def test_the_outbox_forgets_the_mails_of_erased_recipients_only(tmp_path):
    transport = OutboxTransport(tmp_path / "outbox")
    for n, to in enumerate(("gone@example.it", "Gone@Example.it", "kept@example.it")):
        transport.send(
            to_message(Email(to, f"Oggetto {n}", "Corpo", (n,), key=f"k{n}"), "cm <noreply@example.it>")
        )
    assert transport.forget({recipient_key("GONE@example.it")}) == 2
    [left] = (tmp_path / "outbox").glob("*.eml")
    assert message_from_bytes(left.read_bytes(), policy=policy.default)["To"] == "kept@example.it"
    assert transport.forget({recipient_key("nobody@example.it")}) == 0
    assert OutboxTransport(tmp_path / "never-made").forget({recipient_key("kept@example.it")}) == 0
