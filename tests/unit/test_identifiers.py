"""Identifier normalisation (API.md section 1), as properties over generated inputs."""

from __future__ import annotations

import re
import string

from hypothesis import example, given
from hypothesis import strategies as st

from shared.identifiers import is_valid_username, normalize_email, normalize_phone, username_key

ASCII_E164 = re.compile(r"\+[1-9][0-9]{6,14}")

mainland_numbers = st.builds(
    lambda second, rest: f"1{second}{rest}",
    st.sampled_from("3456789"),
    st.text(alphabet="0123456789", min_size=9, max_size=9),
)

username_alphabet = st.sampled_from(string.ascii_letters + string.digits + "_.-" + "张王李赵刘陈杨黄吴周徐孙马朱")
usernames = st.text(username_alphabet, min_size=2, max_size=64).filter(lambda s: not s.isdigit())


# -- phones ---------------------------------------------------------------------------------------


@given(mainland_numbers)
def test_every_mainland_number_maps_to_plus86(number: str):
    assert normalize_phone(number) == "+86" + number


@given(mainland_numbers, st.sampled_from(["{n}", "+86{n}", "0086{n}", " {n} ", "+86 {n}", "{a}-{b}-{c}"]))
def test_all_spellings_of_one_mainland_number_agree(number: str, spelling: str):
    # The written forms a person might type all claim the same identifier
    text = spelling.format(n=number, a=number[:3], b=number[3:7], c=number[7:])
    assert normalize_phone(text) == "+86" + number


@given(st.one_of(mainland_numbers, st.text(max_size=24)))
@example("+8613800138000")
@example("008613800138000")
def test_normalize_phone_is_idempotent_on_its_output(text: str):
    normalized = normalize_phone(text)
    if normalized is not None:
        assert normalize_phone(normalized) == normalized


@given(st.text(max_size=30))
@example("13８00138000")  # a full-width digit
@example("13٨00138000")  # an Arabic-Indic digit
@example("+86١٣٨٠٠١٣٨٠٠٠")
def test_normalize_phone_output_is_always_ascii_e164(text: str):
    # Whatever comes in, what is stored (and used as the uniqueness claim) is E.164: '+' and ASCII digits.
    normalized = normalize_phone(text)
    if normalized is not None:
        assert ASCII_E164.fullmatch(normalized), normalized


@given(st.text(alphabet=string.ascii_letters + "!#$%&*()/\\?", min_size=1, max_size=20))
def test_normalize_phone_rejects_text_without_digits(text: str):
    assert normalize_phone(text) is None


@given(st.text(alphabet="0123456789", max_size=20))
def test_normalize_phone_rejects_bare_digit_strings_that_are_not_mainland_numbers(digits: str):
    if not re.fullmatch(r"1[3-9][0-9]{9}", digits) and not digits.startswith("0086"):
        assert normalize_phone(digits) is None


@given(mainland_numbers, st.sampled_from(["x", "a", "#", "12", "1"]))
def test_normalize_phone_rejects_numbers_with_garbage_attached(number: str, junk: str):
    assert normalize_phone(number + junk) is None
    assert normalize_phone(junk + number) is None


def test_normalize_phone_rejects_obvious_garbage():
    for garbage in ["", "   ", "abc", "12345", "+", "+0123456789", "1380013800", "23800138000", "+86-abc"]:
        assert normalize_phone(garbage) is None, garbage


# -- emails ---------------------------------------------------------------------------------------


@given(st.emails())
def test_normalize_email_lower_cases(email: str):
    normalized = normalize_email(email)
    if normalized is not None:
        assert normalized == email.strip().lower()
        assert normalize_email(email.upper()) == normalized
        assert normalize_email(normalized) == normalized


def test_normalize_email_examples():
    assert normalize_email("  Alice.Smith@Example.COM ") == "alice.smith@example.com"
    for garbage in ["", "alice", "alice@", "@example.com", "a@b", "a b@example.com", "a@@example.com"]:
        assert normalize_email(garbage) is None, garbage


# -- usernames ------------------------------------------------------------------------------------


@given(usernames)
def test_username_key_case_folds(name: str):
    assert username_key(name) == username_key(name.swapcase()) == username_key(name.upper())
    assert username_key(name) == name.lower()


def test_username_key_folds_beyond_ascii():
    assert username_key("Straße") == username_key("STRASSE")
    assert username_key("  Bob ") == "bob"


@given(usernames)
def test_valid_usernames_are_accepted(name: str):
    assert is_valid_username(name)


@given(st.text(alphabet="0123456789", min_size=2, max_size=64))
def test_all_digit_usernames_are_rejected(digits: str):
    assert not is_valid_username(digits)


@given(usernames, usernames)
def test_usernames_with_at_are_rejected(left: str, right: str):
    assert not is_valid_username(f"{left}@{right}")
    assert not is_valid_username(f"{left}@")


@given(st.text(max_size=70))
@example("bob\n")
def test_accepted_usernames_use_only_the_documented_alphabet(text: str):
    # "2-64 letters, digits, _ . - or CJK": nothing else may slip through (not even a trailing newline)
    if is_valid_username(text):
        assert 2 <= len(text) <= 64
        assert re.fullmatch(r"[A-Za-z0-9_.\-\u4e00-\u9fff]+", text), repr(text)
        assert not text.isdigit()


def test_username_length_bounds():
    assert not is_valid_username("a")
    assert is_valid_username("ab")
    assert is_valid_username("a" * 64)
    assert not is_valid_username("a" * 65)
