"""Parsing of every Craigslist page generation, from hand-made fixture pages."""

import json
from pathlib import Path

import pytest

from roomgrid.sources.scrape.pages import (Gone, NotAListing, PageFormatError, block_reason, image_id,
                                   parse_listing_page, parse_search_page)

PAGES = Path(__file__).parent / "pages"
BOSTON = "https://boston.craigslist.org/search/apa?hasPic=1"


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def test_image_id_from_data_ids_and_urls():
    assert image_id("3:00L0L_20Tz7LpfcXD_0dp0t2") == "00L0L_20Tz7LpfcXD_0dp0t2"
    assert image_id("00X0X_abcDEF123") == "00X0X_abcDEF123"
    assert image_id("https://images.craigslist.org/00X0X_abcDEF123_600x450.jpg") == \
        "00X0X_abcDEF123"
    assert image_id("https://images.craigslist.org/00L0L_20Tz7LpfcXD_0dp0t2_50x50c.jpg") == \
        "00L0L_20Tz7LpfcXD_0dp0t2"
    assert image_id("http://images.craigslist.org/3n83o93mdZ5Y5V25X2a4a5b3b9d6a1e9a1e93.jpg") is None


def test_result_rows_give_metadata_and_image_ids():
    listings = parse_search_page(page("search_result_rows.html"), BOSTON)
    assert [item.post_id for item in listings] == [
        "7000000001", "7000000002", "7000000003", "7000000004"]
    first = listings[0]
    assert first.url == "https://boston.craigslist.org/gbs/apa/d/sunny-two-bedroom/7000000001.html"
    assert (first.title, first.price, first.bedrooms, first.sqft, first.neighbourhood,
            first.posted) == ("Sunny two bedroom near the park", 1850, 2, 900, "Back Bay",
                              "2019-03-05 14:22")
    assert first.images == ["00A0A_aaaaaaaaaaa_0aa0aa", "00A0A_bbbbbbbbbbb_0bb0bb"]
    assert listings[2].images == ["00A0A_aaaaaaaaaaa_0aa0aa", "00C0C_ddddddddddd_0dd0dd"]
    # The nearby-area row keeps its own subdomain, so the runner can hand it to its area.
    assert listings[3].url.startswith("https://nh.craigslist.org/")


def test_static_results_must_be_opened():
    listings = parse_search_page(page("search_static.html"), BOSTON)
    assert len(listings) == 7
    assert all(item.images is None for item in listings)
    assert (listings[0].title, listings[0].price, listings[0].neighbourhood, listings[0].post_id) \
        == ("Bright flat with bay window", 2150, "Jamaica Plain", "7100000001")


def test_gallery_pairs_cards_with_json_ld_photos():
    listings = parse_search_page(page("search_gallery.html"),
                                 "https://sfbay.craigslist.org/search/apa")
    assert [item.post_id for item in listings] == ["7300000001", "7300000002"]
    loft, bungalow = listings
    assert loft.images == ["00s0s_missionLoft1_0t20CI", "00s0s_missionLoft2_0t20CI"]
    assert bungalow.images == ["00t0t_oaklandBung1_0t20CI"]
    assert (loft.price, loft.bedrooms, loft.sqft, loft.neighbourhood, loft.posted) == \
        (3200, 1, 700, "mission district", "2023-06-15T15:30:58-07:00")
    assert bungalow.bedrooms == 2


def test_gallery_with_mismatched_json_ld_opens_listings():
    html = page("search_gallery.html").decode()
    start = html.index('{"@context"')
    end = html.index("</script>", start)
    data = json.loads(html[start:end])
    data["itemListElement"] = data["itemListElement"][:1]  # one item for two cards
    html = html[:start] + json.dumps(data) + html[end:]
    listings = parse_search_page(html, "https://sfbay.craigslist.org/search/apa")
    assert [item.post_id for item in listings] == ["7300000001", "7300000002"]
    assert [item.images for item in listings] == [None, None]


def test_2009_rows():
    listings = parse_search_page(page("search_2009.html"), "http://miami.craigslist.org/apa/")
    assert [item.url for item in listings] == [
        "http://miami.craigslist.org/brw/apa/1129196334.html",
        "http://miami.craigslist.org/brw/apa/1129196335.html"]
    with_pic, without_pic = listings
    assert (with_pic.title, with_pic.price, with_pic.bedrooms, with_pic.neighbourhood) == \
        ("Sunny apartment near the beach", 800, 1, "Dania Beach")
    assert with_pic.images is None  # " pic": open the posting
    assert without_pic.images == []  # no photos: nothing to open


def test_honest_empty_page_is_not_an_error():
    assert parse_search_page(page("search_empty.html"), BOSTON) == []


def test_unknown_search_page_names_the_url():
    with pytest.raises(PageFormatError, match=r"https://boston\.craigslist\.org/search/apa"):
        parse_search_page(page("search_unknown.html"), BOSTON)


@pytest.mark.parametrize("name, images, expected", [
    ("listing_imglist.html",
     ["00L0L_20Tz7LpfcXD_0dp0t2", "00m0m_kitchenXYZ01_0t20CI", "00n0n_bathroomQRS9_07K0ak"],
     ("7100000001", "Bright flat with bay window", 2150, 2, 850, "Jamaica Plain",
      "2023-06-12T10:11:12-0400")),
    ("listing_thumbs.html", ["00p0p_livingRoom01_0CI0t2", "00q0q_bedroomView2_0CI0t2"],
     ("7100000002", "Quiet one bedroom", 1700, 1, 640, "Somerville",
      "2023-06-11T09:00:00-0400")),
    ("listing_ldjson.html", ["00r0r_studioOnly77_0lM0t2"],
     ("7100000003", "Single photo studio", 1300, 0, 400, "Brighton",
      "2023-06-10T18:30:00-0400")),
])
def test_modern_listing_pages(name, images, expected):
    listing = parse_listing_page(page(name), "https://boston.craigslist.org/x/7199999999.html")
    assert listing.images == images
    assert (listing.post_id, listing.title, listing.price, listing.bedrooms, listing.sqft,
            listing.neighbourhood, listing.posted) == expected


def test_2009_listing_keeps_craigslist_image_urls_only():
    listing = parse_listing_page(page("listing_2009.html"),
                                 "http://miami.craigslist.org/brw/apa/1129196334.html")
    assert listing.images == [
        "http://images.craigslist.org/3n83o93mdZ5Y5V25X2a4a5b3b9d6a1e9a1e93.jpg",
        "http://images.craigslist.org/3k23m13o9Z5V5U25Y3a4ab4bd8a3b1b1c12ab.jpg"]
    assert (listing.post_id, listing.title, listing.price, listing.posted) == \
        ("1129196334", "Sunny apartment near the beach", 800, "2009-03-02T23:19")


@pytest.mark.parametrize("name, notice", [
    ("listing_expired.html", "this posting has expired"),
    ("listing_deleted.html", "this posting has been deleted by its author"),
])
def test_removed_listings_are_gone(name, notice):
    assert parse_listing_page(page(name), "u") == Gone(url="u", notice=notice)


def test_notice_quoted_in_the_body_does_not_make_a_listing_gone():
    # listing_imglist.html quotes "this posting has expired" inside #postingbody.
    assert not isinstance(parse_listing_page(page("listing_imglist.html"), "u"), Gone)


def test_unknown_listing_page_names_the_url():
    with pytest.raises(PageFormatError, match="https://boston.craigslist.org/a/1.html"):
        parse_listing_page(page("listing_unknown.html"), "https://boston.craigslist.org/a/1.html")


def test_block_pages_are_recognised():
    assert "automatically blocked" in block_reason(page("blocked.html"))
    assert "captcha" in block_reason('<form><div class="g-recaptcha"></div></form>')
    assert block_reason(page("listing_imglist.html")) is None
    assert block_reason(page("search_result_rows.html")) is None
    quoting = page("listing_thumbs.html").replace(
        b"Top floor, quiet street.", b'Scammers ask you to "verify you are human".')
    assert block_reason(quoting) is None


def test_2009_notice_spanning_a_link_makes_the_posting_gone():
    assert parse_listing_page(page("listing_2009_flagged.html"), "u") == Gone(
        url="u", notice="this posting has been flagged for removal")


def test_2023_gallery_meta_line_gives_the_neighbourhood():
    loft, studio = parse_search_page(page("search_gallery_2023.html"),
                                     "https://boston.craigslist.org/search/apa")
    assert (loft.title, loft.price, loft.neighbourhood) == (
        "Two bed near the square", 2350, "Peabody")
    assert studio.neighbourhood is None  # only the posting age: no place to read


def test_2023_listing_gives_the_neighbourhood_after_the_title():
    listing = parse_listing_page(page("listing_2023.html"),
                                 "https://boston.craigslist.org/nos/apa/d/x/7400000001.html")
    assert (listing.title, listing.price, listing.bedrooms, listing.sqft,
            listing.neighbourhood) == ("Two bed near the square", 2350, 2, 850, "Peabody")


@pytest.mark.parametrize("name, expected", [
    ("listing_2009_map.html", ("Nice apartment in Sunrise", 1100, 2, "Sunrise")),
    ("listing_2009_price_last.html", ("300ZX twin turbo 5 speed", 5800, None, "Fort Lauderdale")),
])
def test_2009_headings(name, expected):
    listing = parse_listing_page(page(name), "http://miami.craigslist.org/brw/apa/1.html")
    assert (listing.title, listing.price, listing.bedrooms, listing.neighbourhood) == expected


def test_2009_search_titles_lose_their_trailing_separator():
    listings = parse_search_page(page("search_2009_separators.html"),
                                 "http://miami.craigslist.org/apa/")
    assert [(item.title, item.price, item.neighbourhood) for item in listings] == [
        ("COTTAGE FOR RENT ALL UTILITIES INCLUDED", None, "Davie"),
        ("Nice apartment in Sunrise", 1100, "Sunrise"),
        ("Efficiency near the beach", 700, None)]


def test_2009_photos_on_the_configured_images_site():
    mirror = "http://127.0.0.1:8123/images"
    html = page("listing_2009.html").replace(b"http://images.craigslist.org", mirror.encode())
    url = "http://127.0.0.1:8123/miami/brw/apa/1129196334.html"
    assert parse_listing_page(html, url, [mirror]).images == [
        mirror + "/3n83o93mdZ5Y5V25X2a4a5b3b9d6a1e9a1e93.jpg",
        mirror + "/3k23m13o9Z5V5U25Y3a4ab4bd8a3b1b1c12ab.jpg"]
    # Other images of the same host are no photos of the posting.
    elsewhere = html.replace(mirror.encode() + b"/3k23", b"http://127.0.0.1:8123/logos/3k23")
    assert len(parse_listing_page(elsewhere, url, [mirror]).images) == 1


def test_another_sites_page_is_not_a_listing():
    with pytest.raises(NotAListing, match="no mention of craigslist"):
        parse_listing_page(page("listing_other_site.html"), "https://boston.craigslist.org/1.html")
    # An unknown Craigslist page is a format error of its own kind (retried, may fail the area).
    with pytest.raises(PageFormatError) as error:
        parse_listing_page(page("listing_unknown.html"), "https://boston.craigslist.org/1.html")
    assert not isinstance(error.value, NotAListing)
