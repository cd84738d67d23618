"""Parse Craigslist search and listing pages of every generation into :class:`Listing` records.

Search pages come in four shapes (2009 ``<p>`` rows, pre-2022 ``li.result-row``, 2023+ static
``li.cl-static-search-result`` and 2023+ gallery ``li.cl-search-result`` with JSON-LD); listing
pages in two (modern ``#postingbody`` and 2009 ``<h2>`` + ``#userbody``), plus removal notices.
A page that matches none of them raises :class:`PageFormatError` naming the URL, so a changed
site fails loudly instead of looking like an area without listings.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable
from urllib.parse import urljoin, urlsplit, urlunsplit

from bs4 import BeautifulSoup, Tag

CRAIGSLIST_IMAGES_HOST = "images.craigslist.org"
# A Craigslist image id such as ``00L0L_20Tz7LpfcXD_0dp0t2`` (older ids have two parts), as it
# appears in ``data-ids`` (with an ``N:`` prefix) or in an image URL (with a ``_<size>`` suffix).
IMAGE_ID = r"[0-9A-Za-z]{5}_[0-9A-Za-z]+(?:_[0-9A-Za-z]+)?"
_IMAGE_URL_ID = re.compile(rf"(?:^|/)({IMAGE_ID})_\d+x\d+c?\.(?:jpe?g|png|webp)(?:$|\?)")
_DATA_ID = re.compile(rf"^\s*(?:\d+:)?({IMAGE_ID})\s*$")
_POST_ID_IN_URL = re.compile(r"/(\d{6,})\.html?$")
_POST_ID_IN_TEXT = re.compile(r"post(?:ing)?\s*id:\s*(\d+)", re.IGNORECASE)
_IMG_LIST = re.compile(r"var\s+imgList\s*=\s*(\[.*?\])\s*;", re.DOTALL)
_BEDROOMS = re.compile(r"(\d+)\s*br\b", re.IGNORECASE)
_SQFT = re.compile(r"(\d[\d,]*)\s*(?:ft2|ft²|ft\b|sq\.?\s*ft)", re.IGNORECASE)
_PRICE = re.compile(r"\$\s*(\d[\d,]*)")
_LISTING_HREF = re.compile(r"/\d{6,}\.html?$")
# 2009 headings: "$800 / 1br - title", "$800 - title", "1br - title"; "title - $5800".
_HOUSING_HEAD_2009 = re.compile(
    r"^(?P<head>(?:\$\s*\d[\d,]*|\d+\s*br|\d[\d,]*\s*ft(?:2|²)?)"
    r"(?:\s*/\s*(?:\$\s*\d[\d,]*|\d+\s*br|\d[\d,]*\s*ft(?:2|²)?))*)\s+-\s+",
    re.IGNORECASE)
_TRAILING_PRICE_2009 = re.compile(r"\s+-\s+(?P<price>\$\s*\d[\d,]*)\s*$")
_TRAILING_GROUP = re.compile(r"\s*\(([^()]*)\)\s*$")
_TRAILING_SEPARATOR = re.compile(r"\s*-\s*$")
_DATE_2009 = re.compile(r"Date:\s*(\d{4}-\d{2}-\d{2})(?:,\s*(\d{1,2}:\d{2}\s*[AP]M))?", re.IGNORECASE)

GONE_NOTICES = (
    "this posting has expired",
    "this posting has been deleted by its author",
    "this posting has been flagged for removal",
    "this posting has been removed",
)
# Labels of the map link that follows a 2009 posting's heading: not a neighbourhood.
MAP_LINK_LABELS = frozenset({"map", "google map", "yahoo map"})
NO_RESULTS_NOTICES = (
    "no results",
    "nothing found for that search",
    "zero local results found",
)
BLOCK_NOTICES = (
    "this ip has been automatically blocked",
    "your request has been blocked",
    "access to this site has been blocked",
    "please complete the security check",
    "verify you are human",
)
# Elements found only on real listing and result pages.
CONTENT_MARKERS = ("section#postingbody, span#titletextonly, li.result-row, ul.rows, "
                   "li.cl-search-result, ol.cl-static-search-results, "
                   "script#ld_searchpage_results")
# Markup of captcha and challenge widgets that replace a page when a crawler is suspected.
BLOCK_MARKERS = ("g-recaptcha", "h-captcha", "cf-challenge", "challenge-form")


class PageFormatError(ValueError):
    """A page did not match any known Craigslist layout."""

    def __init__(self, url: str, missing: str):
        self.url = url
        self.missing = missing
        super().__init__(f"unrecognised page {url}: {missing}")


class NotAListing(PageFormatError):
    """A page at a listing URL that is no Craigslist page at all (another site's page, served by
    a mirror, a recording or a parked domain): nothing a changed layout or a retry could fix."""


@dataclass
class Listing:
    """One rental listing: metadata and its photos.

    ``images`` holds image references: a bare Craigslist image id (``00L0L_20Tz7LpfcXD_0dp0t2``)
    or, for 2009-era pages whose images have no id, an absolute image URL. ``None`` means the
    search page did not show the photos and the listing page must be opened to find them.
    """

    url: str
    post_id: str | None = None
    title: str | None = None
    price: int | None = None
    bedrooms: int | None = None
    sqft: int | None = None
    neighbourhood: str | None = None
    posted: str | None = None
    images: list[str] | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Listing":
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})

    def updated_with(self, other: "Listing") -> "Listing":
        """Return a copy where the known values of ``other`` replace this listing's values."""
        values = self.to_dict()
        values.update({key: value for key, value in other.to_dict().items() if value is not None})
        return Listing(**values)


@dataclass
class Gone:
    """A listing page that says the posting was removed."""

    url: str
    notice: str


# ---------------------------------------------------------------------------------------------
# Small text helpers


def _text(node: Tag | None) -> str | None:
    if node is None:
        return None
    text = " ".join(node.get_text(" ", strip=True).split())
    return text or None


def _price(text: str | None) -> int | None:
    match = _PRICE.search(text or "")
    return int(match.group(1).replace(",", "")) if match else None


def _bedrooms(text: str | None) -> int | None:
    match = _BEDROOMS.search(text or "")
    return int(match.group(1)) if match else None


def _sqft(text: str | None) -> int | None:
    match = _SQFT.search(text or "")
    return int(match.group(1).replace(",", "")) if match else None


def _hood(text: str | None) -> str | None:
    """Strip the parentheses Craigslist puts around a neighbourhood: ``' (Kitsilano)'``."""
    if not text:
        return None
    text = text.strip().strip("()").strip()
    return text or None


def _listing_url(href: str, page_url: str) -> str:
    """Resolve a listing link and drop its query and fragment (they vary between visits)."""
    parts = urlsplit(urljoin(page_url, href))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def post_id_from_url(url: str) -> str | None:
    """The numeric post id at the end of a listing URL (``.../7692736931.html``)."""
    match = _POST_ID_IN_URL.search(urlsplit(url).path)
    return match.group(1) if match else None


def image_id(text: str) -> str | None:
    """Extract a Craigslist image id from a ``data-ids`` entry or a sized image URL.

    >>> image_id("3:00L0L_20Tz7LpfcXD_0dp0t2")
    '00L0L_20Tz7LpfcXD_0dp0t2'
    >>> image_id("https://images.craigslist.org/00L0L_20Tz7LpfcXD_0dp0t2_600x450.jpg")
    '00L0L_20Tz7LpfcXD_0dp0t2'
    """
    match = _DATA_ID.match(text) or _IMAGE_URL_ID.search(urlsplit(text.strip()).path)
    return match.group(1) if match else None


def _first(*values):
    """The first value that is not ``None`` (a studio has 0 bedrooms, which is not missing)."""
    return next((value for value in values if value is not None), None)


def _unique(items) -> list:
    return list(dict.fromkeys(item for item in items if item))


def _soup(html: str | bytes) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def _page_text(soup: BeautifulSoup) -> str:
    return " ".join(soup.get_text(" ").split()).lower()


def _json_ld(soup: BeautifulSoup, element_id: str):
    node = soup.find("script", id=element_id)
    if node is None:
        return None
    try:
        return json.loads(node.string or "")
    except json.JSONDecodeError:
        return None


def _js_date(text: str | None) -> str | None:
    """Turn a browser date (``Thu Jun 15 2023 15:30:58 GMT-0700``) into ISO 8601."""
    if not text:
        return None
    try:
        stamp = datetime.strptime(text.split(" (")[0].strip(), "%a %b %d %Y %H:%M:%S GMT%z")
    except ValueError:
        return None
    return stamp.isoformat()


# ---------------------------------------------------------------------------------------------
# Block pages


def block_reason(html: str | bytes) -> str | None:
    """Return why a page looks like a block or captcha page, or ``None`` for an ordinary page.

    A page with listing or result content is never a block page, whatever its text says (a
    posting may well contain "verify you are human", a reply form may carry a captcha).
    """
    soup = _soup(html)
    if soup.select_one(CONTENT_MARKERS):
        return None
    text = _page_text(soup)
    for notice in BLOCK_NOTICES:
        if notice in text:
            return f"block page: {notice!r}"
    raw = str(soup).lower()
    for marker in BLOCK_MARKERS:
        if marker in raw:
            return f"captcha page: {marker!r}"
    return None


# ---------------------------------------------------------------------------------------------
# Search pages


def parse_search_page(html: str | bytes, url: str) -> list[Listing]:
    """Parse a search result page of any known generation.

    Parameters
    ----------
    html : str or bytes
        The page body.
    url : str
        The page URL, used to resolve relative links and to name the page in errors.

    Returns
    -------
    list of Listing
        In page order. An honest "no results" page gives an empty list.

    Raises
    ------
    PageFormatError
        If the page matches no known layout and does not say it has no results.
    """
    soup = _soup(html)
    if soup.select_one("li.result-row, ul.rows"):
        return _result_rows(soup, url)
    if soup.select_one("li.cl-search-result, script#ld_searchpage_results"):
        return _gallery(soup, url)
    if soup.select_one("ol.cl-static-search-results, li.cl-static-search-result"):
        return _static_results(soup, url)
    rows = [p for p in soup.find_all("p") if p.find("a", href=_LISTING_HREF)]
    if rows:
        return _rows_2009(rows, url)
    if soup.select_one(".noresults, .no-results, .cl-no-results") or any(
        notice in _page_text(soup) for notice in NO_RESULTS_NOTICES
    ):
        return []
    raise PageFormatError(
        url,
        "no li.result-row, li.cl-search-result, li.cl-static-search-result, "
        "2009-style <p><a href=...html> rows or 'no results' notice",
    )


def _result_rows(soup: BeautifulSoup, url: str) -> list[Listing]:
    listings = []
    for row in soup.select("li.result-row"):
        link = row.select_one("a.result-title[href], a.hdrlnk[href]")
        if link is None:
            raise PageFormatError(url, "li.result-row without a.result-title[href]")
        listing_url = _listing_url(link["href"], url)
        gallery = row.select_one("a.result-image[data-ids]")
        ids = (gallery["data-ids"].split(",") if gallery else [])
        date = row.select_one("time.result-date[datetime]")
        housing = _text(row.select_one("span.housing"))
        listings.append(Listing(
            url=listing_url,
            post_id=row.get("data-pid") or post_id_from_url(listing_url),
            title=_text(link),
            price=_price(_text(row.select_one("span.result-price"))),
            bedrooms=_bedrooms(housing),
            sqft=_sqft(housing),
            neighbourhood=_hood(_text(row.select_one("span.result-hood"))),
            posted=date["datetime"] if date else None,
            images=_unique(image_id(entry) for entry in ids),
        ))
    return listings


def _static_results(soup: BeautifulSoup, url: str) -> list[Listing]:
    listings = []
    for item in soup.select("li.cl-static-search-result"):
        link = item.find("a", href=True)
        if link is None:
            raise PageFormatError(url, "li.cl-static-search-result without a[href]")
        listing_url = _listing_url(link["href"], url)
        details = _text(item.select_one("div.details"))
        listings.append(Listing(
            url=listing_url,
            post_id=post_id_from_url(listing_url),
            title=item.get("title") or _text(item.select_one("div.title")),
            price=_price(_text(item.select_one("div.price"))),
            bedrooms=_bedrooms(details),
            sqft=_sqft(details),
            neighbourhood=_text(item.select_one("div.location")),
            images=None,  # the static page shows no photos: open each listing
        ))
    return listings


def _gallery(soup: BeautifulSoup, url: str) -> list[Listing]:
    cards = soup.select("li.cl-search-result")
    data = _json_ld(soup, "ld_searchpage_results") or {}
    items = [element.get("item", {}) for element in data.get("itemListElement", [])]
    if items and not cards:
        raise PageFormatError(url, "ld_searchpage_results JSON-LD without li.cl-search-result links")
    # The JSON-LD list follows the cards' order; pair them only when the counts agree, otherwise
    # the photos could land on the wrong listing and each listing page is opened instead.
    paired = items if len(items) == len(cards) else [None] * len(cards)
    listings = []
    for card, item in zip(cards, paired):
        link = card.select_one("a.posting-title[href], a.main[href]") or card.find(
            "a", href=_LISTING_HREF)
        if link is None:
            raise PageFormatError(url, "li.cl-search-result without a listing link")
        listing_url = _listing_url(link["href"], url)
        meta = _text(card.select_one("div.meta"))
        date = card.select_one("div.meta span[title]")
        listing = Listing(
            url=listing_url,
            post_id=card.get("data-pid") or post_id_from_url(listing_url),
            title=card.get("title") or _text(card.select_one(".label")),
            price=_price(_text(card.select_one(".priceinfo, .price"))),
            bedrooms=_bedrooms(_text(card.select_one(".post-bedrooms")) or meta),
            sqft=_sqft(_text(card.select_one(".post-sqft")) or meta),
            neighbourhood=_text(card.select_one(".supertitle, .location")) or _meta_hood(
                card.select_one("div.meta")),
            posted=_js_date(date["title"]) if date else None,
        )
        if item is not None:
            listing = listing.updated_with(_json_ld_item(item, listing_url))
        listings.append(listing)
    return listings


def _meta_hood(meta: Tag | None) -> str | None:
    """The neighbourhood in a gallery card's meta line: bare text after its last separator.

    ``<div class="meta">12 mins ago<span class="separator">·</span>Peabody</div>``; the posting
    age before the first separator and housing details in their own spans are not places.
    """
    if meta is None:
        return None
    last: list = []
    separated = False
    for child in meta.children:
        if isinstance(child, Tag) and "separator" in (child.get("class") or []):
            last, separated = [], True
        else:
            last.append(child)
    if not separated or any(isinstance(child, Tag) for child in last):
        return None
    return " ".join("".join(last).split()) or None


def _json_ld_item(item: dict, url: str) -> Listing:
    images = item.get("image") or []
    if isinstance(images, str):
        images = [images]
    offers = item.get("offers") or {}
    price = offers.get("price") if isinstance(offers, dict) else None
    bedrooms = item.get("numberOfBedrooms")
    return Listing(
        url=url,
        title=item.get("name"),
        price=int(float(price)) if price not in (None, "") else None,
        bedrooms=int(bedrooms) if str(bedrooms or "").isdigit() else None,
        images=_unique(image_id(image) for image in images),
    )


def _title_2009(text: str | None) -> Listing:
    """Split a 2009 heading into its parts.

    Housing headings lead with the rent (``$800 / 1br - Sunny flat (Dania Beach)``), other ads
    end with it (``300ZX twin turbo - $5800 (Sunrise)``); a posting's heading may be followed by
    its ``(map)`` link, and search rows end their titles with a bare `` -`` separator.
    """
    title = " ".join((text or "").split())
    hood = None
    while match := _TRAILING_GROUP.search(title):
        title = title[: match.start()]
        if match.group(1).strip().lower() not in MAP_LINK_LABELS:
            hood = match.group(1).strip() or None
            break
    head = ""
    leading = _HOUSING_HEAD_2009.match(title)
    if leading:
        head, title = leading.group("head"), title[leading.end():]
    else:
        trailing = _TRAILING_PRICE_2009.search(title)
        if trailing:
            head, title = trailing.group("price"), title[: trailing.start()]
    title = _TRAILING_SEPARATOR.sub("", title)
    return Listing(url="", title=title.strip() or None, price=_price(head),
                   bedrooms=_bedrooms(head), sqft=_sqft(head), neighbourhood=hood)


def _rows_2009(rows: list[Tag], url: str) -> list[Listing]:
    listings = []
    for row in rows:
        link = row.find("a", href=_LISTING_HREF)
        listing_url = _listing_url(link["href"], url)
        parsed = _title_2009(_text(link))
        font = row.find("font")
        has_photos = row.find("span", class_="p") is not None
        listings.append(dataclasses.replace(
            parsed,
            url=listing_url,
            post_id=post_id_from_url(listing_url),
            neighbourhood=_hood(_text(font)) or parsed.neighbourhood,
            # Rows without the " pic" marker have no photos: no need to open them.
            images=None if has_photos else [],
        ))
    return listings


# ---------------------------------------------------------------------------------------------
# Listing pages


def parse_listing_page(html: str | bytes, url: str,
                       image_sites: Iterable[str] = ()) -> Listing | Gone:
    """Parse a listing page: metadata and photo references, or the removal notice.

    Parameters
    ----------
    html : str or bytes
        The page body.
    url : str
        The listing URL (after redirects).
    image_sites : iterable of str
        URL prefixes besides ``images.craigslist.org`` whose images count as the posting's photos
        on 2009 pages (which show them as plain ``<img>`` tags among any others): the configured
        images site, e.g. a mirror.

    Returns
    -------
    Listing or Gone
        ``Gone`` when the page says the posting expired, was deleted or removed.

    Raises
    ------
    PageFormatError
        If the page is neither a known listing layout nor a removal notice;
        :class:`NotAListing` if it is no Craigslist page at all.
    """
    soup = _soup(html)
    body = soup.select_one("section#postingbody")
    notice = _gone_notice(soup, body or soup.select_one("div#userbody"))
    if notice:
        return Gone(url=url, notice=notice)
    if body is not None or soup.select_one("span#titletextonly"):
        return _modern_listing(soup, url)
    if soup.find("h2") and (soup.select_one("div#userbody") or "postingid:" in _page_text(soup)):
        return _listing_2009(soup, url, image_sites)
    missing = ("no section#postingbody, span#titletextonly, 2009-style <h2>/#userbody "
               "or removal notice")
    if not is_craigslist_page(html):
        raise NotAListing(url, missing + ", and no mention of craigslist")
    raise PageFormatError(url, missing)


def is_craigslist_page(html: str | bytes) -> bool:
    """Whether a page names Craigslist anywhere (title, footer, stylesheet or mail links): every
    generation of its pages does, including a mirror's copies; another site's page does not."""
    raw = html if isinstance(html, bytes) else html.encode("utf-8", "replace")
    return b"craigslist" in raw.lower()


def _gone_notice(soup: BeautifulSoup, body: Tag | None) -> str | None:
    """The removal notice, ignoring the posting body (an author may quote anything there).

    Each element's whole text is matched, because a notice may span markup (2009: ``This posting
    has been <a>flagged</a> for removal``); elements holding the body are skipped as a whole and
    their other children are looked at one by one.
    """
    for element in soup.find_all(True):
        if body is not None and (element is body or body in element.parents
                                 or element in body.parents):
            continue
        lowered = " ".join(element.get_text().lower().split())
        for notice in GONE_NOTICES:
            if notice in lowered:
                return notice
    return None


def _modern_listing(soup: BeautifulSoup, url: str) -> Listing:
    attributes = " ".join(
        _text(span) or "" for span in soup.select("p.attrgroup span, div.attrgroup span"))
    housing = _text(soup.select_one("span.housing"))
    info = _text(soup.select_one("div.postinginfos")) or " ".join(
        _text(p) or "" for p in soup.select("p.postinginfo"))
    post_id = _POST_ID_IN_TEXT.search(info or "")
    posted = soup.select_one("time.date.timeago[datetime], time.timeago[datetime]")
    return Listing(
        url=url,
        post_id=post_id.group(1) if post_id else post_id_from_url(url),
        title=_text(soup.select_one("span#titletextonly")),
        price=_price(_text(soup.select_one("span.price"))),
        bedrooms=_first(_bedrooms(attributes), _bedrooms(housing)),
        sqft=_first(_sqft(attributes), _sqft(housing)),
        neighbourhood=_title_hood(soup.select_one("span.postingtitletext, h1.postingtitle")),
        posted=posted["datetime"] if posted else None,
        images=_modern_images(soup),
    )


def _title_hood(heading: Tag | None) -> str | None:
    """The neighbourhood after a listing's title: ``<small> (Jamaica Plain)</small>`` or, since
    2023, a plain ``<span> (Peabody)</span>``."""
    if heading is None:
        return None
    for element in heading.find_all(["small", "span"]):
        if element.name == "span" and (element.get("id") or element.get("class")):
            continue  # the title, price and housing spans
        match = re.fullmatch(r"\s*\((.+)\)\s*", element.get_text(), re.DOTALL)
        if match:
            return _hood(match.group(1))
    return None


def _modern_images(soup: BeautifulSoup) -> list[str]:
    """Photo ids from the first source a listing page offers, most complete first."""
    for script in soup.find_all("script"):
        match = _IMG_LIST.search(script.string or "")
        if match:
            try:
                entries = json.loads(match.group(1))
            except json.JSONDecodeError:
                continue
            ids = _unique(image_id(entry.get("imgid") or entry.get("url") or "")
                          for entry in entries if isinstance(entry, dict))
            if ids:
                return ids
    ids = _unique(image_id(a["href"]) for a in soup.select("div#thumbs a[href]"))
    if ids:
        return ids
    data = _json_ld(soup, "ld_posting_data") or {}
    images = data.get("image") or []
    ids = _unique(image_id(image if isinstance(image, str) else image.get("url", ""))
                  for image in ([images] if isinstance(images, (str, dict)) else images))
    if ids:
        return ids
    # A single-photo listing may show just the one image, without a list or thumbnails.
    return _unique(image_id(img.get("src", "")) for img in soup.select(
        "div.gallery img, div.swipe img, figure.iw img, div.slide img"))


def _on_image_site(src: str, image_sites: Iterable[str]) -> bool:
    """Whether an image URL is on Craigslist's image host or under one of ``image_sites``
    (compared without the scheme: 2009 pages link with ``http://``)."""
    if urlsplit(src).hostname == CRAIGSLIST_IMAGES_HOST:
        return True
    bare = re.sub(r"^https?://", "", src)
    return any(bare.startswith(re.sub(r"^https?://", "", site).rstrip("/") + "/")
               for site in image_sites)


def _listing_2009(soup: BeautifulSoup, url: str, image_sites: Iterable[str]) -> Listing:
    parsed = _title_2009(_text(soup.find("h2")))
    text = " ".join(soup.get_text(" ").split())
    post_id = re.search(r"PostingID:\s*(\d+)", text)
    date = _DATE_2009.search(text)
    posted = None
    if date:
        posted = date.group(1)
        if date.group(2):
            clock = datetime.strptime(date.group(2).replace(" ", "").upper(), "%I:%M%p")
            posted += "T" + clock.strftime("%H:%M")
    images = []
    for img in soup.find_all("img", src=True):
        src = urljoin(url, img["src"])
        if _on_image_site(src, image_sites):
            images.append(image_id(src) or src)
    return dataclasses.replace(
        parsed, url=url, post_id=post_id.group(1) if post_id else post_id_from_url(url),
        posted=posted, images=_unique(images))
