"""Property tests of the scrubber every anonymising rule uses: the person's emails and names are gone
from any JSON value, whatever surrounds them or how they are capitalised, and nothing else changes."""

from __future__ import annotations

import json

from hypothesis import assume
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from advocacy_portal.services.privacy_rules import ERASED
from advocacy_portal.services.privacy_rules import Person
from advocacy_portal.services.privacy_rules import scrub

EMAIL = "ada.lovelace@example.com"
NAME = "Ada Lovelace"
PERSON = Person(user_id="7123456", emails={EMAIL}, names={NAME}, surrogate="erased-abc")

text = st.text(max_size=30)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), text)
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)


def _contains(value, needle: str) -> bool:
    return needle.lower() in json.dumps(value, ensure_ascii=False).lower()


def _randomly_cased(draw, word: str) -> str:
    flags = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(char.upper() if flag else char.lower() for char, flag in zip(word, flags))


@st.composite
def mentioning(draw):
    """A document with the email or the name, in any case, inside some string of it."""
    needle = _randomly_cased(draw, draw(st.sampled_from([EMAIL, NAME])))
    before, after = draw(text), draw(text)
    leaf = before + needle + after
    return draw(st.sampled_from([leaf, [leaf], {"note": leaf}, {"a": [1, {"b": leaf}]}]))


@settings(max_examples=200, deadline=None)
@given(mentioning())
def test_a_mention_never_survives(document):
    cleaned = scrub(document, PERSON)
    assert not _contains(cleaned, EMAIL) and not _contains(cleaned, NAME)
    assert ERASED in json.dumps(cleaned)


@settings(max_examples=200, deadline=None)
@given(documents)
def test_a_document_without_a_mention_is_unchanged(document):
    assume(not _contains(document, EMAIL) and not _contains(document, NAME) and not _contains(document, "7123456"))
    assert scrub(document, PERSON) == document


@given(st.sampled_from(["7123456", ["7123456"], {"user_id": "7123456"}]))
def test_the_user_id_as_a_whole_value_becomes_the_surrogate(document):
    assert "7123456" not in json.dumps(scrub(document, PERSON))
    assert "erased-abc" in json.dumps(scrub(document, PERSON))
