"""The reply classifier: praise, complaints and the rest, in English, French and Italian."""

from __future__ import annotations

import pytest

from fediverse_ai.ai.feedback import classify

POSITIVE = [
    "@ai thanks, great answer!",
    "Thank you, that's right",
    "perfect, exactly what I needed 👍",
    "not wrong at all",
    "Merci, c'est parfait",
    "génial, merci beaucoup",
    "Grazie mille, ottimo!",
    "esatto, molto utile",
]
NEGATIVE = [
    "That's wrong",
    "wrong answer, nonsense",
    "not helpful",
    "No, that's wrong.",
    "It doesn't make sense",
    "thanks but that is wrong",
    "you hallucinated the dates",
    "c'est faux",
    "n'importe quoi",
    "ce n'est pas utile",
    "Ça n'a pas de sens",
    "è sbagliato",
    "non è corretto",
    "Risposta sbagliata, non ha senso",
    "👎",
]
NEUTRAL = [
    "and what about in winter?",
    "tell me more about the second point",
    "Et en hiver ?",
    "e in inverno?",
]


@pytest.mark.parametrize("text", POSITIVE)
def test_praise(text: str) -> None:
    assert classify(text).label == "positive", classify(text)


@pytest.mark.parametrize("text", NEGATIVE)
def test_complaints(text: str) -> None:
    assert classify(text).label == "negative", classify(text)


@pytest.mark.parametrize("text", NEUTRAL)
def test_questions_and_the_rest(text: str) -> None:
    assert classify(text).label == "neutral", classify(text)


def test_the_reason_names_the_words_and_the_negation() -> None:
    verdict = classify("Thanks, but that's not correct")
    assert verdict.score == 1 - 1
    assert verdict.reason == 'neutral +0: "thanks" (en, +1); not "correct" (en, -1)'
    assert classify("è sbagliato").reason == 'negative -2: "sbagliat…" (it, -2)'
    assert classify("and in winter?").reason == "a follow-up question"


def test_negation_stops_at_the_end_of_a_clause() -> None:
    # "not" belongs to the first sentence; the second is plain praise.
    assert classify("I was not sure. Great answer").label == "positive"
    assert classify("not great").label == "negative"


def test_a_word_inside_another_is_not_a_cue() -> None:
    assert classify("the wrongdoers of history?").label == "neutral"
    assert classify("tutto sbagliatissimo").label == "negative"  # a prefix cue, on purpose
