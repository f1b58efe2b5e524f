"""The free-text rules: length after trimming, ISO-8859-1 and control characters."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postventa.domain.errors import BadRequest
from postventa.domain.text import clean_free_text, first_offending_character

LATIN1_PRINTABLE = st.characters(
    min_codepoint=0x20, max_codepoint=0xFF, exclude_categories=("Cc",)
)
BEYOND_LATIN1 = st.characters(min_codepoint=0x100, exclude_categories=("Cs",))
REFUSED_CONTROLS = st.sampled_from(
    [chr(c) for c in [*range(0x20), *range(0x80, 0xA0)] if chr(c) not in "\t\n"]
)


def refusal_of(text: str) -> str:
    with pytest.raises(BadRequest) as caught:
        clean_free_text(text)
    assert caught.value.status == 400
    return caught.value.message


def named_character(message: str) -> tuple[str, int]:
    """The code point and position a refusal names."""
    match = re.search(r"U\+([0-9A-F]{4,6}) at position (\d+)", message)
    assert match, message
    return chr(int(match.group(1), 16)), int(match.group(2))


class TestLength:
    @pytest.mark.parametrize(
        "text",
        ["", " ", "  \n\t  ", "\r\n"],
        ids=["empty", "a space", "white space", "a line break"],
    )
    def test_a_text_empty_after_trimming_is_refused(self, text):
        message = refusal_of(text)

        assert "1 to 350" in message
        assert "it has 0" in message

    def test_one_character_is_accepted(self):
        assert clean_free_text("a") == "a"

    def test_350_characters_are_accepted(self):
        text = "ñ" * 350

        assert clean_free_text(text) == text

    def test_351_characters_are_refused_naming_the_length(self):
        message = refusal_of("a" * 351)

        assert "it has 351" in message

    def test_the_length_is_counted_after_trimming(self):
        text = "  " + "a" * 350 + "\n\n"

        assert clean_free_text(text) == "a" * 350

    def test_the_length_is_counted_in_code_points_not_bytes(self):
        text = "é" * 350

        assert len(text.encode("utf-8")) == 700
        assert clean_free_text(text) == text


class TestCharacters:
    def test_surrounding_white_space_is_trimmed(self):
        assert clean_free_text("  \t Hola, ¿cómo estás?\r\n ") == "Hola, ¿cómo estás?"

    @pytest.mark.parametrize(
        "text",
        ["Hola\nchau", "Hola\r\nchau", "Hola\tchau", "Línea 1\r\n\r\nLínea 3"],
        ids=["a line feed", "a CRLF", "a tab", "a blank CRLF line"],
    )
    def test_line_breaks_and_tabs_inside_are_kept(self, text):
        assert clean_free_text(text) == text

    def test_the_whole_latin1_printable_range_is_accepted(self):
        text = "".join(map(chr, range(0xA1, 0x100))) + "".join(
            map(chr, range(0x21, 0x7F))
        )

        assert clean_free_text(text) == text

    def test_a_lone_carriage_return_is_refused(self):
        message = refusal_of("Hola\rchau")

        assert "U+000D at position 5" in message
        assert "control character" in message

    def test_a_carriage_return_before_another_is_refused(self):
        assert "U+000D at position 3" in refusal_of("ab\r\r\ncd")

    @pytest.mark.parametrize(
        ("char", "code"),
        [
            ("\x00", "U+0000"),
            ("\x1b", "U+001B"),
            ("\x0b", "U+000B"),
            ("\x85", "U+0085"),
        ],
        ids=["a null", "an escape", "a vertical tab", "a C1 next line"],
    )
    def test_a_control_character_inside_is_refused(self, char, code):
        message = refusal_of(f"ab{char}cd")

        assert f"{code} at position 3" in message
        assert "control character" in message

    def test_delete_is_refused_as_a_control_character(self):
        assert "U+007F at position 2" in refusal_of("a\x7fb")

    def test_a_character_outside_latin1_is_refused_naming_it(self):
        message = refusal_of("Precio: 10 €")

        assert "U+20AC at position 12" in message
        assert "ISO-8859-1" in message

    def test_the_position_is_counted_in_the_trimmed_text(self):
        assert "U+20AC at position 2" in refusal_of("   a€")

    def test_an_astral_character_is_named_with_all_its_digits(self):
        assert "U+1F600 at position 1" in refusal_of("😀 gracias")

    def test_only_the_first_offending_character_is_named(self):
        message = refusal_of("a\x01b€")

        assert "U+0001 at position 2" in message
        assert "U+20AC" not in message

    def test_the_length_is_checked_before_the_characters(self):
        assert "it has 351" in refusal_of("€" * 351)

    @pytest.mark.parametrize(
        "char", ["\x1c", "\x1d", "\x1e", "\x1f"], ids=lambda c: f"U+{ord(c):04X}"
    )
    def test_a_trailing_separator_control_is_refused_not_trimmed(self, char):
        refusal_of(f"Hola{char}")


class TestProperties:
    @given(st.text(LATIN1_PRINTABLE, min_size=1, max_size=350).filter(str.strip))
    def test_any_latin1_printable_text_is_accepted_as_trimmed(self, text):
        assert clean_free_text(text) == text.strip()

    @given(
        st.text(LATIN1_PRINTABLE, max_size=100),
        BEYOND_LATIN1,
        st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=100),
    )
    def test_a_character_beyond_latin1_is_refused_naming_the_first(
        self, before, char, after
    ):
        trimmed = (before + char + after).strip()
        first = next((i for i, c in enumerate(trimmed) if ord(c) > 0xFF), None)
        if not trimmed or first is None:
            return  # the offending character was white space and got trimmed

        named, position = named_character(refusal_of(before + char + after))

        assert (named, position) == (trimmed[first], first + 1)

    @given(
        st.text(LATIN1_PRINTABLE, min_size=1, max_size=100).filter(str.strip),
        REFUSED_CONTROLS,
        st.text(LATIN1_PRINTABLE, min_size=1, max_size=100).filter(str.strip),
    )
    def test_a_refused_control_between_printable_text_is_named(
        self, before, char, after
    ):
        text = before.lstrip() + char + after.rstrip()

        named, position = named_character(refusal_of(text))

        assert (named, position) == (char, len(before.lstrip()) + 1)

    @given(
        st.text(LATIN1_PRINTABLE, min_size=351, max_size=600).filter(
            lambda t: len(t.strip()) > 350
        )
    )
    def test_any_text_longer_than_350_after_trimming_is_refused(self, text):
        assert f"it has {len(text.strip())}" in refusal_of(text)

    @given(
        st.text(st.sampled_from(" \t\r\n"), max_size=20),
        st.text(LATIN1_PRINTABLE, min_size=1, max_size=300).filter(str.strip),
        st.text(st.sampled_from(" \t\r\n"), max_size=20),
    )
    def test_surrounding_white_space_never_changes_the_answer(
        self, left, middle, right
    ):
        assert clean_free_text(left + middle + right) == middle.strip()

    @given(st.text(max_size=400))
    def test_an_accepted_text_always_meets_every_rule(self, text):
        try:
            cleaned = clean_free_text(text)
        except BadRequest:
            return

        assert 1 <= len(cleaned) <= 350
        assert cleaned == cleaned.strip()
        cleaned.encode("iso-8859-1")
        without_crlf = cleaned.replace("\r\n", "")
        assert not any(
            (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F) and c not in "\t\n"
            for c in without_crlf
        )


def offending_by_hand(text: str) -> int | None:
    """The rule spelt out character by character."""
    for index, char in enumerate(text):
        code = ord(char)
        if char == "\r":
            if text[index + 1 : index + 2] != "\n":
                return index
        elif char in "\t\n":
            continue
        elif code < 0x20 or 0x7F <= code <= 0x9F or code > 0xFF:
            return index
    return None


EDGE_CHARACTERS = st.sampled_from(
    "\x00\x08\t\n\x0b\x0c\r\x0e\x1f \x7e\x7f\x80\x9f\xa0\xff\u0100\U0001f600a"
)


class TestFirstOffendingCharacter:
    @given(st.text(st.one_of(EDGE_CHARACTERS, st.characters()), max_size=60))
    def test_it_finds_what_the_rule_spelt_out_finds(self, text):
        assert first_offending_character(text) == offending_by_hand(text)

    @pytest.mark.parametrize(
        ("text", "index"),
        [("a\r\nb", None), ("a\rb", 1), ("\r\r\n", 0), ("ab\r", 2), ("\x85", 0)],
    )
    def test_carriage_returns_and_c1_controls(self, text, index):
        assert first_offending_character(text) == index
