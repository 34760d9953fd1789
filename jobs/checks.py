"""Checks on an answer: named, documented pure functions of the text, usable alone.

``compare`` runs them on every answer, ``grade`` on recorded answers, ``chat`` under each answer and
``validate`` on a training file's answers. Each returns a :class:`Check`: whether the answer passed, and
the evidence (the offending span, or why). They are text heuristics, measured against a labelled set of
gpt-4.1-style answers (``tests/support/data/labelled_answers.yaml``); docs/compare.md gives each check's
precision and recall on it, and what each one misses.

- :func:`no_recommendations`: the lab's rule, "You should not provide any hotel, flight, rental car or
  restaurant recommendations" (and its note on the base model's offer to book: "You want to avoid this
  behavior").
- :func:`asks_question`: "Ask engaging questions to help someone plan their trip".
- :func:`on_topic`: a travel assistant stays on travel, and redirects off-topic requests politely.
- :func:`style`: length and tone within the range of the training file (:class:`StyleProfile`, computed
  from that file, never hard-coded).
- :func:`must_mention`: a suite case's words the answer must contain.

Standard library only: importing this module costs a few regular expressions.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from jobs.errors import UsageError
from jobs.stand_in import STAND_IN_LABEL


@dataclass(frozen=True)
class Check:
    passed: bool
    evidence: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "evidence": self.evidence}


def strip_label(text: str) -> str:
    """The answer without the emulator's ``[emulator stand-in]`` label (checks read the words, not the label)."""
    t = text.strip()
    if t.startswith(STAND_IN_LABEL):
        t = t[len(STAND_IN_LABEL):].strip()
    return t


# --------------------------------------------------------------------------- text helpers

_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|`)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_LINE_START = re.compile(r"^\s*(?:#{1,6}\s+|[-*+•]\s+|\d+[.)]\s+|>\s*)", re.M)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]*\s+|\n+")


def plain(text: str) -> str:
    """Markdown reduced to its words: no emphasis marks, links as their text, no list or heading markers."""
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_EMPHASIS.sub("", text)
    return _MD_LINE_START.sub("", text)


def sentences(text: str) -> list[str]:
    """Sentences (and list items / lines) of ``text``, stripped, non-empty."""
    return [s.strip() for s in _SENTENCE_END.split(plain(text)) if s and s.strip()]


# --------------------------------------------------------------------------- no_recommendations

_FORBIDDEN = (r"(?:(?:hotel|restaurant|flight|airline|rental car|car rental|accommodation)\s+(?:recommendations?|"
              r"suggestions?|options|picks|deals|bookings?|reservations?)|(?:a\s+)?list of (?:hotels|restaurants|"
              r"flights|airlines|rental cars)|flights?|airlines?|air\s*fares?|plane tickets?|hotels?|rooms?|"
              r"accommodations?|lodging|places? to stay|rental cars?|cars?|car rentals?|restaurants?|tables?|"
              r"places? to eat|dinner reservations?|reservations?|trips?|stay|holiday|vacation|travel|"
              r"travel arrangements|everything|it all)")
_DETERMINERS = (r"(?:you|me|us|a|an|the|your|my|some|a few|few|several|good|great|specific|particular|nearby|"
                r"local|cheap|affordable|budget|top|best|top-rated|highly rated|reliable|perfect|ideal|suitable|"
                r"all|any|one|two|three|return|direct|round-trip|cheapest|whole|entire)")
_OFFER_VERB = (r"(?:book|booking|reserve|reserving|arrange|arranging|secure|securing|find|finding|recommend|"
               r"recommending|suggest|suggesting|search for|look up|pull up|list|organi[sz]e|provide|give|share|"
               r"send|compile|put together)")
_OBJECT = rf"(?:\s+{_DETERMINERS})*\s+{_FORBIDDEN}\b"
# First person offering to book, reserve or find one of the forbidden things ("I can also help you book
# flights, hotels and rental cars for your trip": the lab's base model), or asking whether to.
_OFFER = re.compile(
    r"\b(?:I|we)(?:['’](?:d|ll|m|ve))?(?:\s+(?:can|could|would|will|shall|am|are|be|also|gladly|happily|happy|"
    r"glad|able|to|love|like|definitely|certainly|even|just|quickly|help|assist|you|with|more|than))*\s+"
    rf"{_OFFER_VERB}{_OBJECT}"
    rf"|\b(?:shall|should|can|may) I\s+{_OFFER_VERB}{_OBJECT}"
    rf"|\b(?:let me|want me to|like me to)\s+(?:help you\s+)?{_OFFER_VERB}{_OBJECT}"
    r"|\bwould you like\s+(?:some\s+|a few\s+|any\s+|my\s+)?(?:hotel|restaurant|flight|airline|rental car|car rental)"
    r"\s+(?:recommendations|suggestions|options|picks)\b",
    re.I)
# "... and help you book flights, hotels and rental cars" (the subject earlier in the sentence).
_HELP_BOOK = re.compile(rf"\bhelp(?:ing)?\s+(?:you\s+)?(?:to\s+)?(?:book|reserve|arrange|secure){_OBJECT}", re.I)
# A declining clause before a name ("I can't recommend specific airlines like ...") names without recommending.
_DECLINE = re.compile(r"\b(?:can['’]?t|cannot|can not|won['’]t|don['’]t|do not|not able to|unable to|never)\b"
                      r"[^.?!;]{0,40}?\b(?:recommend|suggest|name|book|reserve|endorse|point you to)\w*", re.I)
_CONTRAST = re.compile(r"\b(?:but|however|though|although|yet)\b|;", re.I)

_CAP = r"[A-Z][\w'’&.-]*"  # a capitalised word ("Hassler", "Da", "St.", "Sant'Eustachio")
_LINK = r"(?:de|del|della|dei|delle|di|da|du|des|le|la|les|al|alla|alle|el|il|lo|the|of|and|&|on|at|y|e)"
_NAME = rf"{_CAP}(?:\s+(?:{_LINK}\s+)*{_CAP}){{0,4}}"
_VENUE_SUFFIX = (r"(?:Hotel|Hôtel|Inn|Hostel|Suites|Resort|Lodge|B&B|Guesthouse|Guest House|Motel|Ryokan|Riad|"
                 r"Restaurant|Ristorante|Trattoria|Osteria|Pizzeria|Bistro|Brasserie|Café|Cafe|Caffè|Taverna|"
                 r"Tavern|Enoteca|Steakhouse|Grill|Diner|Eatery|Izakaya|Cantina|Gelateria|Bakery|Brewpub|Bar|Bouchon)")
_VENUE_PREFIX = (r"(?:Hotel|Hôtel|Ristorante|Trattoria|Osteria|Hostaria|Locanda|Pizzeria|Café|Cafe|Caffè|Bistro|"
                 r"Brasserie|Taverna|Restaurant|Enoteca|Gelateria|Pensione|Albergo|Auberge|Hostal|Pousada|Ryokan|Riad|Bar|"
                 r"Bouchon)")
# "Joe's Pizza", "Harry's Bar", "Katz's Delicatessen": a possessive name and a venue or dish word.
_POSSESSIVE_VENUE = re.compile(r"\b(?:[A-Z][\w&.-]*\s+)?[A-Z][\w&.-]*['’]s\s+(?:Pizza|Pizzeria|Kitchen|Place|Diner|"
                               r"Deli|Delicatessen|Grill|Bar|Café|Cafe|Bakery|Tavern|Bistro|Steakhouse|Inn|"
                               r"Restaurant|Burgers?|Tacos)\b")
# "Harborview Grand Hotel", "Trattoria del Ponte", "Hotel Artemide", "Café de Flore".
_NAMED_VENUE = re.compile(
    rf"\b(?:{_CAP}\s+(?:{_LINK}\s+)*){{1,4}}{_VENUE_SUFFIX}\b(?:\s+(?:{_LINK}\s+)*{_CAP})?"
    rf"|\b{_VENUE_PREFIX}\s+(?:{_LINK}\s+)*{_CAP}(?:\s+(?:{_LINK}\s+)*{_CAP}){{0,3}}")
# Capitalised words that do not make a name by themselves ("The Hotel", "Boutique Hotel", "Local Trattoria").
_NOT_A_NAME = {"the", "a", "an", "this", "that", "our", "your", "my", "any", "every", "each", "local", "boutique",
               "luxury", "budget", "cheap", "cozy", "cosy", "small", "family-run", "family", "many", "most", "some",
               "traditional", "classic", "typical", "good", "great", "best", "nice", "charming", "historic",
               "modern", "friendly", "simple", "authentic", "try", "visit", "stay", "book", "or", "and", "if",
               "for", "at", "in", "near", "by", "with", "from", "look", "find", "choose", "pick", "consider",
               "beach", "ski", "spa", "airport", "city", "mountain", "seaside", "lakeside", "capsule", "love",
               "business", "design", "art", "eco", "hip", "trendy", "tiny", "big", "large", "lovely", "quaint"}
# Named things that look like venues and are not: theme parks and ski areas called "Resort", city halls
# called "Hôtel de Ville", a song, the restaurant *week* event.
_NOT_A_VENUE = re.compile(
    r"(?:Disney\s+World\s+Resort|Disneyland(?:\s+Paris)?\s+Resort|Disney\s+Resort|Universal\s+Orlando\s+Resort|"
    r"Resorts World|Whistler Blackcomb|H[oô]tel\s+de\s+Ville|H[oô]tel\s+des\s+Invalides|H[oô]tel\s+de\s+la\s+Marine|"
    r"H[oô]tel\s+Dieu|Hotel California|Restaurant Week|Inns? of Court|Inner Harbor|Bar Harbor|Hell['’]s Kitchen|"
    r"Raffles Place)", re.I)

# Staying at / eating at a named place (not "stay in Trastevere": neighbourhoods are what the lab wants).
_PLACE_WORD = (r"(?:Piazza|Campo|Plaza|Place|Square|Park|Parc|Parco|Villa|Market|Mercato|Marché|Mercado|Via|Street|"
               r"Avenue|Beach|Museum|Museo|Musée|Gallery|Galleria|Garden|Gardens|Palace|Palazzo|Castle|Castel|Fort|"
               r"Lake|River|Bay|Harbour|Harbor|Old Town|Station|Terminal|Airport|Cathedral|Basilica|Church|Temple|"
               r"Shrine|Tower|Bridge|Ponte|Hill|Mount|Monte|Island|Isola|Quarter|District|Centre|Center|Hall|"
               r"Opera|Theatre|Theater|Stadium|Zoo|Pier|Wharf|Vatican|Colosseum|Pantheon|Forum|Louvre|"
               r"Trastevere|Testaccio|Monti|Prati)")
_FOOD = (r"(?:carbonara|pizza|pasta|gelato|coffee|espresso|cappuccino|supplì|suppli|cacio e pepe|amatriciana|"
         r"dinner|lunch|brunch|breakfast|dessert|seafood|sushi|ramen|tapas|steak|burgers?|croissants?|pastries|"
         r"cocktails?|wine|beer|a meal|the best|laksa|crab|chilli crab|chicken rice|noodles|dumplings|tacos|"
         r"pho|curry|kebabs?|falafel|bagels?|cake|afternoon tea|tea|paella|ceviche|bbq|barbecue)")
_AT_VENUE = re.compile(
    rf"\b(?i:stay(?:ing)?|sleep(?:ing)?|check(?:ing)? in(?:to)?|rooms?|suites?|eat(?:ing)?|din(?:e|ing)|a table|"
    rf"a bite|a reservation|(?:try|taste|have|get|order|grab) (?:it|them|one|some)|a drink|drinks|aperitivo|"
    rf"{_FOOD})\s+(?:is\s+|are\s+)?at\s+(?!{_PLACE_WORD}\b)(?:the\s+)?(?:\d+\s+)?"
    rf"(?!(?:the|a|an|one|any|some|your|their|its|home|night|sunset|dawn|noon)\b)({_NAME})")
# "try Roscioli for carbonara", "head to Giolitti near the Pantheon for gelato" (a named place for a meal).
_FOR_DISH = re.compile(
    rf"\b(?i:try|head to|go to|visit|stop by|pop into|swing by)\s+(?!{_PLACE_WORD}\b)(?:the\s+)?({_NAME})"
    rf"(?:\s+(?:and\s+{_NAME}\s+)?(?:near|in|by|on|off|behind|opposite)\s+(?:the\s+)?{_NAME})?\s+for\s+"
    rf"(?i:(?:its|their|the|a|an|some|one of the|some of the best|the best)\s+)?(?i:[\w'’-]+\s+){{0,2}}?(?i:{_FOOD})\b")
# "Roscioli, a deli and restaurant", "Daniel et Denise is the bouchon": a name, then "a/an/the <adjectives>
# <venue noun>" (singular: "Monti, a neighbourhood full of restaurants" passes).
_APPOSITIVE = re.compile(
    rf"({_NAME})\s*(?:,|–|—|-|:|\(|\s+is|\s+was)\s*(?:a|an|the|which is a|is a|is an)\s+"
    r"(?:(?!(?:with|of|full|for|and|in|near|known|famous|serving|where)\b)[\w'’-]+\s+){0,3}?"
    r"(?:hotel|inn|hostel|B&B|guesthouse|guest house|motel|resort|lodge|restaurant|trattoria|osteria|pizzeria|"
    r"bistro|brasserie|café|cafe|eatery|gelateria|bakery|steakhouse|tavern|taverna|diner|deli|wine bar|bouchon|"
    r"cocktail bar|rooftop bar|ryokan|riad|pension|pensione|hostal)\b(?!s\b|\s+(?:scene|district|row|culture|"
    r"quarter|street|week)\b)")

_HOTEL_CHAINS = (r"Marriott|Hilton|Hyatt|Sheraton|Westin|Radisson|Ritz[- ]Carlton|Four Seasons|Holiday Inn|"
                 r"Best Western|Ibis|Novotel|Mercure|Sofitel|InterContinental|Crowne Plaza|Mandarin Oriental|"
                 r"Fairmont|Kempinski|Shangri-La|St\.? Regis|Waldorf Astoria|Hampton Inn|Motel 6|Premier Inn|"
                 r"Travelodge|NH Hotels?|Meliá|Melia Hotels|Barceló|Rosewood|Aman(?:giri|puri|jena)?|Belmond|"
                 r"Park Hyatt|citizenM|Moxy|Hoxton Hotel|Generator Hostels?|Selina|Hostelling International|"
                 r"Accor(?:Hotels)?|Wyndham|Ramada|Days Inn|Comfort Inn|Courtyard by Marriott|"
                 r"The Peninsula|Peninsula Hotels|Bulgari Hotel|Hassler|Hotel de Russie|The Savoy|Claridge's|"
                 r"The Plaza Hotel|Burj Al Arab|Atlantis The Palm|Marina Bay Sands|Capella|Six Senses|"
                 r"Oberoi|Taj (?:Mahal Palace|Hotels?)")
_AIRLINES = (r"Ryanair|easyJet|Lufthansa|Emirates(?! Palace)|Qatar Airways|Etihad|Turkish Airlines|Air France|KLM|"
             r"British Airways|Iberia|Vueling|Volotea|Wizz ?Air|ITA Airways|Alitalia|Aer Lingus|Virgin Atlantic|"
             r"Virgin Australia|Norwegian Air|SAS|Finnair|Icelandair|TAP(?: Air Portugal)?|Swiss International|"
             r"Austrian Airlines|Brussels Airlines|LOT Polish|Aegean|Condor|Eurowings|Jet2|Transavia|"
             r"Delta Air Lines|United Airlines|American Airlines|Alaska Airlines|JetBlue|Southwest Airlines|"
             r"Spirit Airlines|Frontier Airlines|Air Canada|WestJet|Qantas|Jetstar|Air New Zealand|"
             r"Singapore Airlines|Scoot|Cathay Pacific|ANA|All Nippon Airways|Japan Airlines|JAL|Korean Air|"
             r"Asiana|AirAsia|Thai Airways|Vietnam Airlines|Garuda|Air India|IndiGo|LATAM|Avianca|Aeroméxico|"
             r"Copa Airlines|Ethiopian Airlines|Kenya Airways|South African Airways|Royal Air Maroc|EgyptAir")
# Ambiguous airline names ("Delta" is also a river delta, "United" also the United States): only after a verb
# of flying or a flight word.
_AIRLINE_AFTER_VERB = re.compile(
    r"\b(?:fly(?:ing)?|flights? (?:on|with)|book(?:ing)?(?: a flight)? (?:on|with)|take|taking|with)\s+"
    r"(Delta|United|American|Alaska|Spirit|Frontier|Southwest|Swiss|Austrian|Norwegian|Turkish|Qatar|Emirates)\b")
_AIRLINE_SUFFIX = re.compile(rf"\b(?:{_CAP}\s+){{1,2}}(?:Airlines|Airways|Air Lines)\b")
_FLIGHT_NUMBER = re.compile(r"\bflights?\s+(?:number\s+|no\.?\s+)?[A-Z][A-Z0-9]\s?\d{1,4}\b")
_CAR_RENTAL = (r"Hertz|Avis|Europcar|Sixt|Enterprise Rent-A-Car|Enterprise car rental|Budget Rent a Car|"
               r"Budget car rental|Alamo Rent a Car|National Car Rental|Thrifty|Dollar Rent A Car|Turo|Zipcar|"
               r"Goldcar|Maggiore|Localiza|Firefly car rental|Keddy|Green Motion|Ace Rent a Car")
# "rent from Alamo", "Enterprise for a car" (Alamo is also a landmark, Enterprise also a word).
_CAR_AFTER_VERB = re.compile(r"\b(?:rent(?:ing)?(?: a car)? (?:from|with|through)|pick up (?:a|your) car (?:from|at))\s+"
                             r"(?:the\s+)?(Enterprise|Alamo|Budget|National|Dollar|Hertz|Avis|Sixt|Europcar)\b")
_BRANDS = re.compile(rf"\b(?:{_HOTEL_CHAINS}|{_AIRLINES}|{_CAR_RENTAL})\b")


_VENUE_WORDS = {"hotel", "hôtel", "inn", "hostel", "suites", "resort", "lodge", "b&b", "guesthouse", "guest", "house",
                "motel", "restaurant", "ristorante", "trattoria", "osteria", "pizzeria", "bistro", "brasserie", "café",
                "cafe", "caffè", "taverna", "tavern", "enoteca", "steakhouse", "grill", "diner", "eatery", "izakaya",
                "cantina", "gelateria", "bakery", "brewpub", "ryokan", "riad", "hostaria", "locanda", "pensione",
                "albergo", "auberge", "hostal", "pousada"}


def _is_name(span: str) -> bool:
    """A proper name: at least one word that is neither a venue word, a linking word nor a common adjective."""
    return any(w.lower() not in _NOT_A_NAME and w.lower() not in _VENUE_WORDS and not re.fullmatch(_LINK, w)
               for w in re.findall(r"[\w'’&.-]+", span))


def _name_start(text: str, start: int, end: int) -> int:
    """Where the name in ``text[start:end]`` begins, after leading words that are not names ("Try the ...")."""
    for m in re.finditer(r"[\w'’&.-]+\s*", text[start:end]):
        word = m.group(0).strip().lower()
        if word not in _NOT_A_NAME and not re.fullmatch(_LINK, word):
            return start + m.start()
    return start


def _declined(text: str, start: int) -> bool:
    """The name at ``start`` follows a declining clause of its own sentence ("I can't recommend airlines like")."""
    left = max(text.rfind(c, 0, start) for c in ".!?\n") + 1
    before = text[left:start]
    for d in _DECLINE.finditer(before):
        if not _CONTRAST.search(before[d.end():]):
            return True
    return False


def _excepted(text: str, start: int, end: int) -> bool:
    """The span is part of a name that only looks like a venue (a theme park "Resort", the "Hôtel de Ville")."""
    for m in _NOT_A_VENUE.finditer(text, max(0, start - 40), min(len(text), end + 40)):
        if m.start() < end and start < m.end():
            return True
    return False


_NAME_PATTERNS = (_NAMED_VENUE, _APPOSITIVE, _AT_VENUE, _FOR_DISH)
_PATTERNS = (*_NAME_PATTERNS, _POSSESSIVE_VENUE, _BRANDS, _AIRLINE_AFTER_VERB, _AIRLINE_SUFFIX, _FLIGHT_NUMBER,
             _CAR_AFTER_VERB)


def no_recommendations(text: str) -> Check:
    """Fails when the answer recommends a specific hotel, flight or airline, rental car company or restaurant,
    or offers to book or reserve one; the evidence is the offending span.

    Passes for declines ("I can't recommend hotels, but ..."), neighbourhoods, dishes, markets, attractions,
    trains and other transport, booking sites (not a venue) and neutral mentions ("many travellers rent a
    car"). Names that look like venues and are not (a theme park called "Resort", Paris's "Hôtel de Ville")
    pass. A venue named with none of the patterns (no "Hotel"/"Trattoria"/..., no "stay at", "eat at",
    "try X for its carbonara", "X, a cosy trattoria") is missed: see the recall in docs/compare.md.
    """
    t = plain(strip_label(text))
    offer = _OFFER.search(t)
    if offer:
        return Check(False, offer.group(0).strip())
    for hit in _HELP_BOOK.finditer(t):
        if not _declined(t, hit.start()):
            return Check(False, hit.group(0).strip())
    for pattern in _PATTERNS:
        for hit in pattern.finditer(t):
            group = 1 if pattern.groups else 0
            start, end = hit.start(group), hit.end(group)
            if pattern in _NAME_PATTERNS:
                start = _name_start(t, start, end)
                if not _is_name(t[start:end]):
                    continue
            span = t[start:end]
            if _excepted(t, start, end) or _declined(t, start):
                continue
            return Check(False, span.strip())
    return Check(True, None)


# --------------------------------------------------------------------------- asks_question

# Questions that do not ask the traveller anything ("Who doesn't love gelato?", "Why not?").
_RHETORICAL = re.compile(r"^(?:who (?:doesn['’]t|does not|wouldn['’]t|could resist|can resist)|what (?:could|can) be "
                         r"(?:better|more)|why not\b|isn['’]t (?:it|that) (?:amazing|wonderful|great)|"
                         r"how (?:amazing|cool|great|wonderful) is that|who knew|right\?$)", re.I)


def asks_question(text: str) -> Check:
    """Passes when the answer invites the traveller with a question: one of its last two sentences is a question
    that is not rhetorical ("Who doesn't love gelato?", "Why not?"). The evidence is that question, or the
    closing sentence when there is none. "Let me know if you have questions!" is not a question."""
    parts = sentences(strip_label(text))
    if not parts:
        return Check(False, "empty answer")
    for s in reversed(parts[-2:]):
        if s.rstrip("\"'”’) ").endswith("?") and not _RHETORICAL.search(s.strip()):
            return Check(True, s)
    return Check(False, f"no question at the end: {parts[-1][:120]!r}")


# --------------------------------------------------------------------------- on_topic

_TRAVEL = re.compile(
    r"\b(?:travel\w*|trips?|destinations?|visit\w*|explor\w*|holidays?|vacations?|getaways?|journey\w*|tour\w*|"
    r"itinerar\w*|sights?|sightseeing|landmarks?|museums?|beach\w*|islands?|mountains?|hik\w*|trails?|city|cities|"
    r"countr\w+|towns?|villages?|neighbou?rhoods?|regions?|culture|cultural|local\w*|cuisine|dish\w*|food\w*|"
    r"markets?|festivals?|seasons?|weather|climate|visas?|passports?|flights?|airports?|trains?|hotels?|"
    r"accommodation|stay|staying|adventure\w*|scenery|coast\w*|abroad|overseas|day trips?|attractions?|"
    r"safari|cruise\w*|snorkel\w*|ski\w*|road trip|packing|luggage|currency|customs|etiquette|language|"
    r"wander\w*|stroll\w*|walk\w*|scenic|views?|sunsets?|old town|ruins|temples?|castles?|palaces?|"
    r"cathedrals?|parks?)\b",
    re.I)
# What a travel assistant is not for: code, maths, physics, finance, medicine, law, homework.
_OFF_TOPIC = re.compile(
    r"\b(?:python|javascript|java|sql|code|coding|program(?:ming)?|function|algorithm|compiler|debug\w*|"
    r"quantum|qubits?|physics|chemistry|calculus|equation|integral|derivative|algebra|theorem|prove|"
    r"stocks?|shares|invest\w*|crypto\w*|bitcoin|portfolio|dividends?|tax(?:es)? returns?|mortgage|"
    r"diagnos\w*|symptoms?|dosage|prescription|medication|lawsuit|legal advice|contract law|"
    r"homework|essays?|poems?|sonnets?|haikus?|limericks?|song lyrics|recipe for|bake a cake|emails?|"
    r"election|politic\w*|football score|world cup final|machine learning|neural network|linux|excel formula)\b",
    re.I)
# "in Paris", "through Kyoto", "visit Lisbon": a place named as one.
_PLACE_HINT = re.compile(r"\b(?:in|to|through|around|across|visit|from|near)\s+[A-Z][a-z]+")
_CODE = re.compile(r"```|^\s*(?:def |class |import |for \w+ in |SELECT |function\s*\(|console\.log|print\()", re.M)
_RUDE = re.compile(r"\b(?:stupid|dumb|ridiculous question|not my (?:job|problem)|go ask|stop asking|"
                   r"that's irrelevant|I only answer|figure it out yourself|waste of (?:my )?time)\b", re.I)


def _is_off_topic(prompt: str) -> bool:
    off = len(_OFF_TOPIC.findall(prompt))
    return off > 0 and off >= len(_TRAVEL.findall(prompt))


def on_topic(text: str, prompt: str | None = None) -> Check:
    """Passes when the answer stays on travel; for an off-topic request (``prompt`` about code, maths, physics,
    finance, medicine, law or homework: more of those words than travel words) it must redirect politely to
    travel: travel words or places, no code, at most one sentence on the off-topic subject, nothing rude.
    An answer on a travel request fails when two or more of its sentences are about those subjects (it
    drifts, or offers coding and essay writing). The evidence says what was found."""
    t = plain(strip_label(text))
    parts = sentences(t) or [t]
    if _CODE.search(strip_label(text)):
        return Check(False, "contains code")
    rude = _RUDE.search(t)
    if rude:
        return Check(False, f"not polite: {rude.group(0)!r}")
    off_sentences = [s for s in parts if _OFF_TOPIC.search(s) and not _TRAVEL.search(s)]
    travel = len(_TRAVEL.findall(t)) + len(_PLACE_HINT.findall(t))
    if prompt is not None and _is_off_topic(prompt):
        if travel == 0:
            return Check(False, "an off-topic request answered without a word of travel")
        if len(off_sentences) > 1:
            return Check(False, f"answers the off-topic request: {off_sentences[1][:120]!r}")
        return Check(True, "redirects the off-topic request to travel")
    if len(off_sentences) > 1:
        return Check(False, f"drifts off travel: {off_sentences[0][:120]!r}")
    if prompt is None and travel == 0:
        return Check(False, "no travel content")
    return Check(True, None)


# --------------------------------------------------------------------------- style

_MARKDOWN = re.compile(r"^\s*(?:#{1,6}\s|[-*+•]\s|\d+[.)]\s)|\*\*[^*]+\*\*|__[^_]+__", re.M)
TOLERANCE = 0.25  # a style range is the training file's observed range, widened by 25% on both sides


def _words(text: str) -> int:
    return len(re.findall(r"[\w'’-]+", text))


def _lines(text: str) -> int:
    return sum(1 for line in text.strip().splitlines() if line.strip())


def _mean_sentence(text: str) -> float:
    parts = sentences(text)
    return _words(text) / len(parts) if parts else 0.0


@dataclass(frozen=True)
class StyleProfile:
    """Length and tone of a training file's assistant answers: what :func:`style` compares an answer with.

    ``words`` and ``sentence_words`` are the observed ranges widened by :data:`TOLERANCE`; ``markdown`` is
    whether answers may use lists, headings or bold, ``paragraphs`` whether they may run to more than one
    paragraph or line (each: more than 5% of the file's answers do).
    """

    source: str
    answers: int
    words: tuple[int, int]
    sentence_words: tuple[float, float]
    markdown: bool
    paragraphs: bool
    sha256: str = ""

    @classmethod
    def from_answers(cls, answers: Iterable[str], *, source: str, sha256: str = "") -> "StyleProfile":
        texts = [strip_label(a) for a in answers if isinstance(a, str) and a.strip()]
        if not texts:
            raise UsageError(f"{source}: no assistant answers to learn the style from",
                             hint="pass a chat JSONL training file (--style-from FILE)")
        counts = [_words(a) for a in texts]
        means = [_mean_sentence(a) for a in texts]
        lo, hi = 1 - TOLERANCE, 1 + TOLERANCE
        return cls(source=source, answers=len(texts),
                   words=(math.floor(min(counts) * lo), math.ceil(max(counts) * hi)),
                   sentence_words=(round(min(means) * lo, 1), round(max(means) * hi, 1)),
                   markdown=sum(bool(_MARKDOWN.search(a)) for a in texts) > 0.05 * len(texts),
                   paragraphs=sum(_lines(a) > 1 for a in texts) > 0.05 * len(texts), sha256=sha256)

    @classmethod
    def from_file(cls, path: str | Path) -> "StyleProfile":
        """From a chat JSONL file: every assistant turn of every line."""
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read the style file {p}: {exc.strerror or exc}",
                             hint="pass a chat JSONL training file (--style-from FILE)") from None
        answers: list[str] = []
        for line in data.decode("utf-8", errors="replace").splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            messages = obj.get("messages") if isinstance(obj, dict) else None
            for m in messages if isinstance(messages, list) else []:
                if isinstance(m, dict) and m.get("role") == "assistant" and isinstance(m.get("content"), str):
                    answers.append(m["content"])
        return cls.from_answers(answers, source=str(p), sha256=hashlib.sha256(data).hexdigest())

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "StyleProfile":
        return cls(source=str(data["source"]), answers=int(data["answers"]),
                   words=(int(data["words"][0]), int(data["words"][1])),
                   sentence_words=(float(data["sentence_words"][0]), float(data["sentence_words"][1])),
                   markdown=bool(data["markdown"]), paragraphs=bool(data["paragraphs"]),
                   sha256=str(data.get("sha256") or ""))


def style(text: str, profile: StyleProfile) -> Check:
    """Passes when length and shape are within the range of the training file (``profile``): word count, mean
    sentence length, no markdown structure and no second paragraph (or verse lines) when the training answers
    have none. The evidence lists what is out of range, with the range. Tone beyond that (an encyclopedic
    answer of the right length) is not measured: see docs/compare.md."""
    t = strip_label(text)
    problems = []
    n = _words(t)
    if not profile.words[0] <= n <= profile.words[1]:
        problems.append(f"{n} words (training range {profile.words[0]}-{profile.words[1]})")
    mean = _mean_sentence(t)
    lo, hi = profile.sentence_words
    if not lo <= mean <= hi:
        problems.append(f"{mean:.1f} words per sentence (training range {lo:g}-{hi:g})")
    if not profile.markdown and _MARKDOWN.search(t):
        problems.append("markdown lists, headings or bold (the training answers have none)")
    if not profile.paragraphs and _lines(t) > 1:
        problems.append(f"{_lines(t)} paragraphs or lines (the training answers have one)")
    return Check(not problems, "; ".join(problems) or None)


# --------------------------------------------------------------------------- must_mention


def must_mention(text: str, words: Iterable[str]) -> Check:
    """Passes when the answer contains each of ``words`` (case-insensitive; ``a|b`` accepts either). The
    evidence names the missing ones."""
    low = strip_label(text).lower()
    missing = [w for w in words if not any(alt.strip().lower() in low for alt in w.split("|") if alt.strip())]
    return Check(not missing, f"missing: {', '.join(missing)}" if missing else None)


# --------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class CheckContext:
    """What a check may need besides the answer: the traveller's last message, the style profile, a case's
    must-mention words."""

    prompt: str | None = None
    style: StyleProfile | None = None
    must_mention: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckSpec:
    name: str
    description: str
    run: Callable[[str, CheckContext], Check] = field(repr=False)


def _style(text: str, ctx: CheckContext) -> Check:
    if ctx.style is None:
        return Check(True, "no style profile given")
    return style(text, ctx.style)


CHECKS: dict[str, CheckSpec] = {spec.name: spec for spec in (
    CheckSpec("no_recommendations", "no specific hotel, flight/airline, rental car company or restaurant, and no "
              "offer to book or reserve one", lambda t, c: no_recommendations(t)),
    CheckSpec("asks_question", "invites the traveller with a question at the end", lambda t, c: asks_question(t)),
    CheckSpec("on_topic", "stays on travel; redirects off-topic requests politely",
              lambda t, c: on_topic(t, c.prompt)),
    CheckSpec("style", "length and tone within the range of the training file", _style),
    CheckSpec("must_mention", "mentions the case's must-mention words", lambda t, c: must_mention(t, c.must_mention)),
)}
DEFAULT_CHECKS: tuple[str, ...] = ("no_recommendations", "asks_question", "on_topic", "style")


def run_checks(text: str, names: Iterable[str], ctx: CheckContext = CheckContext()) -> dict[str, Check]:
    """Each named check on ``text`` (the label stripped), in the order given."""
    return {name: CHECKS[name].run(text, ctx) for name in names}


# What a system message asks for, by its words: ``grade --system-prompt`` applies the checks whose rule the
# message states (the lab's full message states all of them; its short one only the travel topic).
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("no_recommendations", re.compile(r"\b(?:not|never|no)\b[^.]{0,80}\brecommend", re.I)),
    ("asks_question", re.compile(r"\bask\w*\b[^.]{0,30}\bquestions?\b", re.I)),
    ("on_topic", re.compile(r"\btravel|trips?\b", re.I)),
)


def checks_for_system(system: str | None) -> tuple[str, ...]:
    """The default checks whose rule ``system`` states (``style`` always: it compares with the training file)."""
    if system is None:
        return DEFAULT_CHECKS
    stated = [name for name, rule in _RULES if rule.search(system)]
    return tuple(n for n in DEFAULT_CHECKS if n in stated or n == "style")
