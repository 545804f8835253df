"""Per-task callback secrets: one per task and key, carried as the URL's last segment."""

from __future__ import annotations

from tests.fakes import MemoryStore
from videojobs.signing import KEY_META, SECRET_CHARS, CallbackSigner, load_signer


def test_each_task_and_key_has_its_own_secret() -> None:
    signer = CallbackSigner("https://bot.example.org/kling", "key-one")
    other_key = CallbackSigner("https://bot.example.org/kling", "key-two")
    a, b = signer.secret("a" * 32), signer.secret("b" * 32)
    assert a != b and a != other_key.secret("a" * 32)
    assert len(a) == SECRET_CHARS and int(a, 16) >= 0
    assert signer.verify("a" * 32, a)
    assert not signer.verify("a" * 32, b)
    assert not signer.verify("a" * 32, "")
    assert not other_key.verify("a" * 32, a)


def test_the_url_is_the_public_url_plus_the_secret() -> None:
    signer = CallbackSigner("https://bot.example.org/kling/", "k")
    assert signer.url_for("t1") == f"https://bot.example.org/kling/{signer.secret('t1')}"
    with_query = CallbackSigner("https://bot.example.org/cb?via=proxy", "k")
    assert with_query.url_for("t1") == f"https://bot.example.org/cb/{signer.secret('t1')}?via=proxy"
    bare = CallbackSigner("http://127.0.0.1:8080", "k")
    assert bare.url_for("t1") == f"http://127.0.0.1:8080/{signer.secret('t1')}"


async def test_the_key_is_made_once_and_kept_in_the_store() -> None:
    """Two processes (two signers on one store) make the same secrets."""
    store = MemoryStore()
    first = await load_signer(store.key_values, "https://bot.example.org/kling")
    second = await load_signer(store.key_values, "https://bot.example.org/kling")
    assert store.key_values.values[KEY_META]
    assert first.secret("t1") == second.secret("t1")
