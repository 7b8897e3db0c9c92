"""In-article noise: short blocks inside the article's container that are not the article.

Advertisement markers, "read more" stubs, share / print / newsletter / follow / rating
prompts, bylines and date lines, photo credits, copyright and licence notes, and headings
left with nothing under them (a "Related articles" heading whose link list was dropped).
They sit inside the article's own container, so neither furniture names nor scoring see
them; each is recognised from its own text. The phrase lists are the common ones in the
languages of the web we crawl most (English, German, French, Spanish, Italian, Portuguese,
Polish, Dutch), not any one site's wording. Only short blocks are judged, so a paragraph of
prose that merely mentions "newsletter" or a date stays.
"""

from __future__ import annotations

import re

from pipeline.document import ImageNode, Node, TextBlock

_SHORT = 120  # prompts, stubs, markers: a line, not a paragraph
_META_SHORT = 100  # date and byline lines
_NOTICE_SHORT = 300  # copyright and licence notices run to a few sentences
_DATE_LINE_WORDS = 4  # words beside the dates and times in a date line ("Updated: ..., 10:27")

_AD_WORDS = (r"advertisement|advertising|advertorial|anzeige|werbung|reklame|publicidad|"
             r"publicité|pubblicità|publicidade|reklama|advertentie|sponsored(?: content)?|"
             r"gesponsert|promoted|ad")
# The whole block is the marker, or the marker opens a short block ("ANZEIGE - ...").
_AD_MARKER = re.compile(rf"^[\W_]*(?:{_AD_WORDS})[\W_]*$|^[\W_]*(?:{_AD_WORDS})\s*[:\-–—|.]")
_STUB = re.compile(
    r"^[\W_]*(?:read (?:more|the (?:full|whole|rest))|continue reading|keep reading|learn more|"
    r"weiterlesen|weiter ?lesen|mehr lesen|mehr erfahren|mehr dazu|zum (?:artikel|beitrag)|"
    r"weiter\b|"
    r"lire la suite|en savoir plus|leer más|seguir leyendo|continua(?:re)? a leggere|"
    r"leggi (?:tutto|anche)|"
    r"leia mais|czytaj (?:więcej|dalej|też)|lees (?:meer|verder))")
_TRAILING_STUB = re.compile(
    r"\s*(?:\[?…\]?|\.\.\.|\[\.\.\.\])?\s*(?:read more|continue reading|weiterlesen|mehr lesen|"
    r"lire la suite|leer más|leggi tutto|czytaj (?:więcej|dalej))\W*$")
_PROMPT = re.compile(
    r"\bshare (?:this|on|via|it)\b|\bteilen\b|\bpartager\b|\bcompartir\b|\bcondividi|\budostępnij|"
    r"\bprint (?:this|article|page)\b|\bdrucken\b|\bimprimer\b|\bimprimir\b|\bdrukuj\b|"
    r"\bnewsletter|\bsubscri|\babonnier|\babonnez|\bsuscr[ií]b|\biscriviti|\bsubskrypc|"
    r"follow us|folgen sie uns|folge uns|s[ií]guenos|suivez[- ]nous|seguici|obserwuj nas|"
    r"leave a (?:comment|reply)|kommentar (?:schreiben|verfassen)|kommentare schreiben|"
    r"schreibe?n? (?:sie )?einen kommentar|comment(?:s)? (?:below|section)|"
    r"was this (?:article|page|post) (?:helpful|useful)|"
    r"(?:artikel|beitrag|seite) (?:bewerten|teilen)|"
    r"(?:war|ist) (?:der|dieser) (?:artikel|beitrag) (?:hilfreich|nützlich)|^\W*bewerten\W*$|"
    r"^\W*gefällt mir\W*$|like this:|\bpin it\b|bei pinterest|"
    r"download (?:the|our) .{0,40}\bapps?\b|"
    r"\bdonate\b|\bspenden\b|support (?:our|us|independent)|"
    r"unterstütze[n]? (?:sie )?(?:uns|unsere)")
_DATE = re.compile(
    r"\b\d{1,2}\.\s?\d{1,2}\.\s?(?:\d{4}|\d{2})\b|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b|"
    r"\b\d{1,2}:\d{2}\b|\b\d{1,2}\.?\s+(?:jan|feb|mär|mar|apr|mai|may|jun|jul|aug|sep|okt|oct|nov|"
    r"dez|dec|janv|févr|avr|juil|déc|ene|abr|ago|dic|sty|lut|kwi|maj|cze|lip|sie|wrz|paź|lis|gru)"
    r"[a-zäéû]*\.?\s+\d{4}|\b(?:january|february|march|april|may|june|july|august|september|"
    r"october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)"
    r"\.? \d{1,2},? \d{4}")
_BYLINE = re.compile(
    r"^\W*(?:by|von|por|par|di|door|autor(?:in)?|author|verfasst von|posted by|written by|"
    r"geschrieben von)\b|\b(?:updated|aktualisiert|publiziert|veröffentlicht|published|posted|"
    r"erstellt|modified|last modified|mis à jour|publié|actualizado|publicado)\b"
    r"\s*(?:am|on|le|el)?\s*:?|"
    r"\bmin(?:ute)?s? read\b|\blesezeit\b|\btemps de lecture\b|"
    r"\b(?:kategorie|category|categories|kategorien|tags?|schlagw[öo]rter|themen|topics|"
    r"rubrik|catégorie|categoría|etiquetas|stand|datum|date)\s*:")
# A date line that opens with a label of its own ("Deadline: 1 March", "Termin: ...") is
# the article's information; publication labels are caught by _BYLINE first.
_LABEL = re.compile(r"^\W*[^\W\d][\w ]{0,30}:")
# An attribution under a quote or an embedded post ("— Name (@handle) January 24, 2020").
_ATTRIBUTION = re.compile(r"^\s*[—–]")
_CREDIT = re.compile(
    r"^\W*(?:fotos?|bild(?:er)?|titelbild|photos?|image|credits?|crédito|cr[ée]dit photo|quelle|"
    r"source|grafik|illustration|video|symbolbild)\s*:|\b(?:bild|foto|photo) via\b|"
    r"\b(?:foto|photo|bild|image|picture)\s*credits?\s*:|\b(?:foto|photo|bild)\s*:\s*[^.!?:]{1,40}$")
_NOTICE = re.compile(
    r"©|\(c\) ?\d{4}|\bcopyright\b|all rights reserved|alle rechte vorbehalten|"
    r"tous droits réservés|todos los derechos|prawem autorskim|urheberrechtlich geschützt|"
    r"\blizenz cc|\bcc[- ]by\b|creative commons")
_DIGIT = re.compile(r"\d")


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Cheap gates before the patterns above (each costs microseconds per block, and most blocks
# are prose): a pattern is tried only when the block holds a word it needs, as its first
# word where the pattern is anchored at the start. Each set lists those words.
_AD_FIRST = _set(
    "advertisement advertising advertorial anzeige werbung reklame publicidad publicité "
    "pubblicità publicidade reklama advertentie sponsored gesponsert promoted ad")
_STUB_FIRST = _set(
    "read continue keep learn weiterlesen weiter mehr zum lire en leer seguir continua "
    "continuare leggi leia czytaj lees")
_PROMPT_WORDS = _set(
    "share teilen partager compartir udostępnij print drucken imprimer imprimir drukuj "
    "iscriviti follow folgen folge síguenos siguenos suivez seguici obserwuj comment comments "
    "reply kommentar kommentare helpful useful bewerten hilfreich nützlich gefällt like pin "
    "pinterest download donate spenden support unterstütze unterstützen")
_PROMPT_STEMS = re.compile(r"\b(?:condividi|newsletter|subscri|abonnier|abonnez|suscr|subskrypc)")
_BYLINE_FIRST = _set(
    "by von por par di door autor autorin author verfasst posted written geschrieben")
_BYLINE_WORDS = _set(
    "updated aktualisiert publiziert veröffentlicht published posted erstellt modified last mis "
    "publié actualizado publicado read lesezeit lecture kategorie category categories "
    "stand datum date "
    "kategorien tag tags schlagwörter schlagworter themen topics rubrik catégorie categoría "
    "etiquetas")
_CREDIT_WORDS = _set(
    "foto fotos bild bilder titelbild photo photos image credit credits crédito crédit quelle "
    "source grafik illustration video symbolbild picture")
_NOTICE_WORDS = _set(
    "c copyright rights rechte droits derechos prawem urheberrechtlich lizenz cc creative")
_NOTICE_GATE = re.compile(r"\(c\)|copyright|rights|rechte|droits|derechos|prawem|urheberrecht|"
                          r"lizenz|cc[- ]by|creative commons")
_GATE_SPLIT = re.compile(r"\W+")
_SENTENCE = re.compile(r"\w[.!?…][\"'”’»)]*(?:\s|$)")


def noise_reason(text: str) -> str | None:
    """Why a text block is in-article noise ("ad_marker", "stub", "prompt", "byline_date",
    "credit", "notice"), or None when it is not."""
    n = len(text)
    if n > _NOTICE_SHORT:
        return None
    lower = text.lower()  # the patterns are lowercase: re.IGNORECASE is ~4x slower
    if n > _SHORT:  # only a notice is this long: substring gates beat splitting into words
        notice = "©" in lower or _NOTICE_GATE.search(lower) is not None
        return "notice" if notice and _NOTICE.search(lower) else None
    words = [w for w in _GATE_SPLIT.split(lower) if w]
    if not words:
        return None
    first = words[0]
    if n <= _SHORT:
        if first in _AD_FIRST and _AD_MARKER.search(lower):
            return "ad_marker"
        if n <= 60 and first in _STUB_FIRST and _STUB.search(lower):
            return "stub"
        prompt_words = not _PROMPT_WORDS.isdisjoint(words)
        if (prompt_words or _PROMPT_STEMS.search(lower)) \
                and _PROMPT.search(lower):
            return "prompt"
    if n <= _META_SHORT:
        if (first in _BYLINE_FIRST or not _BYLINE_WORDS.isdisjoint(words)) \
                and _BYLINE.search(lower) and not _is_sentence(lower, len(words)):
            return "byline_date"
        if _DIGIT.search(lower) and _DATE.search(lower) and not _LABEL.search(lower) \
                and not _ATTRIBUTION.search(lower) \
                and len(_DATE.sub(" ", lower).split()) <= _DATE_LINE_WORDS:
            return "byline_date"
        if not _CREDIT_WORDS.isdisjoint(words) and _CREDIT.search(lower):
            return "credit"
    notice = "©" in lower or not _NOTICE_WORDS.isdisjoint(words)
    return "notice" if notice and _NOTICE.search(lower) else None


def _is_sentence(text: str, words: int) -> bool:
    """Several words ending a sentence: a short paragraph, not a date line."""
    return words >= 8 and _SENTENCE.search(text) is not None


_TRAILING_CREDIT = re.compile(r"\s*©[^.!?]*$")
_TRAILING_STUB_CASED = re.compile(_TRAILING_STUB.pattern, re.IGNORECASE)


_STUB_TAIL_GATE = re.compile("more|reading|lesen|suite|más|tutto|czytaj")


def strip_tail(text: str) -> str:
    """A paragraph without a trailing "... Read more" stub or "© Photo: agency" credit."""
    if len(text) <= 60:
        return text
    # Only the tail can match; searching a long paragraph from every position costs ~10%.
    head, tail = text[:-60], text[-60:]
    lower = tail.lower()
    new_tail = tail
    if _STUB_TAIL_GATE.search(lower):
        new_tail = _TRAILING_STUB_CASED.sub("", new_tail)
    if "©" in new_tail:
        new_tail = _TRAILING_CREDIT.sub("", new_tail)
    return text if new_tail is tail else head + new_tail


def drop_orphan_headings(nodes: list[Node]) -> list[Node]:
    """Without the headings that end the document: what they introduced ("Related
    articles", "About the author") was furniture or a link list and is gone."""
    end = len(nodes)
    while end and isinstance(nodes[end - 1], TextBlock) and nodes[end - 1].kind == "heading":
        end -= 1
    return nodes[:end]


def clean_nodes(nodes: list[Node]) -> tuple[list[Node], dict[str, int]]:
    """``nodes`` without in-article noise, and how many blocks went for each reason."""
    kept: list[Node] = []
    dropped: dict[str, int] = {}
    for node in nodes:
        if isinstance(node, ImageNode):
            kept.append(node)
            continue
        if node.kind in ("pre", "table"):
            kept.append(node)
            continue
        text = strip_tail(node.text)
        reason = noise_reason(text)
        if reason:
            dropped[reason] = dropped.get(reason, 0) + 1
            continue
        kept.append(node if text == node.text else TextBlock(text=text, kind=node.kind))
    before = len(kept)
    kept = drop_orphan_headings(kept)
    if len(kept) < before:
        dropped["orphan_heading"] = before - len(kept)
    return kept, dropped
