"""A shop's name in the other language says its language (WCAG 3.1.2), so a screen reader reads the English
name on a Chinese page in English, and the Chinese name on an English page in Chinese."""

from __future__ import annotations

import re

import pytest

OTHER = {"zh": ("en", "zh-CN"), "en": ("zh-CN", "en")}  # page language -> (lang of the other name, <html lang>)


def shop_items(html: str) -> dict[str, str]:
    items = dict(re.findall(r'<li data-shop="([^"]+)">(.*?)</li>', html, re.S))
    assert items, "no shops listed"
    return items


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_mall_homes_other_language_shop_names_carry_lang(client, demo, lang):
    other, page_lang = OTHER[lang]
    html = client.get(f"/v/demo/?lang={lang}").get_data(as_text=True)
    assert f'<html lang="{page_lang}">' in html
    for shop, item in shop_items(html).items():
        name = re.search(r'<span class="small"([^>]*)>([^<]*)</span>', item)
        assert name, shop
        assert name.group(1) == f' lang="{other}"', (shop, name.group(0))
    noodle = "Lanzhou Noodle Bar" if lang == "zh" else "兰州拉面"
    assert f'<span class="small" lang="{other}">{noodle}</span>' in shop_items(html)["noodle"]


@pytest.mark.parametrize(("lang", "heading", "other_name"), [("zh", "兰州拉面", "Lanzhou Noodle Bar"),
                                                        ("en", "Lanzhou Noodle Bar", "兰州拉面")])
def test_a_shop_pages_other_language_name_carries_lang(client, demo, lang, heading, other_name):
    html = client.get(f"/v/demo/shop/noodle?lang={lang}").get_data(as_text=True)
    assert f'<h1 id="shop-name">{heading}</h1>' in html
    assert re.search(rf'</h1>\s*<p class="small" lang="{OTHER[lang][0]}">{other_name}</p>', html)
