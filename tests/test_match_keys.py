"""Match keys: the same customer written five ways gives one key; different ones stay apart."""
import pytest

from crm_platform.match_keys import email_key, name_key, phone_digits, phone_key, text_key


@pytest.mark.parametrize("written", [
    "15515651234", "155 1565 1234", "155-1565-1234", "+86 155 1565 1234", "0086 15515651234",
    "(+86)155-1565-1234", "１５５１５６５１２３４",
])
def test_one_mobile_number_written_many_ways_has_one_key(written):
    assert phone_key(written) == "+8615515651234"
    assert phone_digits(written) == "15515651234"


def test_a_landline_with_its_area_code_and_a_foreign_number():
    assert phone_key("010-6552 1234") == phone_key("+86 10 65521234") == "+861065521234"
    assert phone_key("+1 (212) 555-0100") == "+12125550100"


def test_nothing_to_match_on_gives_no_key():
    for empty in (None, "", "   ", "-"):
        assert phone_key(empty) is None
    assert text_key("  ") is None and email_key(None) is None


def test_a_string_that_is_no_number_falls_back_to_its_digits():
    assert phone_key("ext. 12") == "12"


def test_emails_and_text_compare_without_case_and_spacing():
    assert email_key(" Wang.Li@Example.COM ") == email_key("wang.li@example.com") == "wang.li@example.com"
    assert text_key("  北京  星河\u3000科技 ") == text_key("北京 星河 科技")
    assert text_key("ACME Ltd") == text_key("acme  ltd")
    assert text_key("星河科技") != text_key("星河科技有限公司")


@pytest.mark.parametrize("written", [
    "上海星辰科技有限公司", "上海星辰科技", "上海星辰科技股份有限公司", "上海 星辰科技（集团）有限公司", "上海星辰科技集团",
])
def test_one_company_written_with_and_without_its_legal_form_has_one_name_key(written):
    assert name_key(written) == "上海星辰科技"


@pytest.mark.parametrize("written", ["Acme Co., Ltd.", "ACME", "Ａｃｍｅ Inc.", "acme  corp", "Acme Limited"])
def test_an_english_company_name_ignores_case_width_punctuation_and_its_ending(written):
    assert name_key(written) == "acme"


def test_names_that_differ_stay_apart_and_a_bare_ending_is_its_own_key():
    assert name_key("星辰科技") != name_key("星河科技")
    assert name_key("Zhang San") == name_key("zhang  san") == "zhangsan"
    assert name_key("有限公司") == "有限公司" and name_key("Co.") == "co"
    assert name_key(None) is None and name_key("  ") is None
