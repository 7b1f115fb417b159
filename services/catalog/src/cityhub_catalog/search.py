"""Multilingual full-text search over the service catalog.

Pure Python and free of I/O: the catalog service loads the YAML data, builds
one :class:`SearchIndex` at start-up and calls :meth:`SearchIndex.search` per
request. The catalog is small (tens of services), so the index trades memory
for simplicity: every field text becomes a set of *terms*, and a query is
scored by matching its own terms (plus expansions) against them.

Residents type queries in five languages, often on a phone, with typos, no
diacritics, mixed scripts and colloquial words. The design answers that with:

* one :func:`normalize` for index and query (case, width, accents, Persian
  letter variants, ZWNJ, simplified Chinese, katakana) so spelling variants
  meet on the same string;
* terms that survive missing spaces: adjacent words are also indexed
  concatenated ("pot hole" == "pothole", "ổ gà" == "oga"), and CJK text,
  which has no spaces, is indexed as character bigrams and unigrams;
* query expansion by synonyms, plural stripping, typo-tolerant (edit
  distance) and prefix matches, each with a weight below an exact match;
* ranking: each query position takes its best match in a document, weighted
  by field (name > keywords > category > department > summary), language
  (the requested one, then English at a discount) and term rarity (BM25 idf),
  then the sum is scaled by how much of the query the document covers.
"""

# ruff: noqa: RUF001 -- Persian, CJK and full-width letters are intentional here.

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from rapidfuzz import process
from rapidfuzz.distance import OSA

__all__ = [
    "FIELD_WEIGHTS",
    "SearchDocument",
    "SearchHit",
    "SearchIndex",
    "Synonyms",
    "load_search_documents",
    "normalize",
]

FALLBACK_LANG: Final = "en"

#: Field weights: a word in the service's name says more than one in a summary.
FIELD_WEIGHTS: Final[Mapping[str, float]] = {
    "name": 3.0,
    "keywords": 2.0,
    "category": 1.2,
    "department": 1.0,
    "summary": 0.8,
}
#: English texts are searched for every language but count for less, so a
#: query in Japanese prefers Japanese matches yet "pothole" still works.
_FALLBACK_WEIGHT: Final = 0.6
_SYNONYM_WEIGHT: Final = 0.9
_PREFIX_WEIGHT: Final = 0.6
#: Two CJK characters found apart are weak evidence compared to the bigram.
_CJK_SPLIT_WEIGHT: Final = 0.4
_FUZZY_WEIGHTS: Final = (1.0, 0.85, 0.7, 0.55)
_MAX_FUZZY: Final = 3
_MAX_PREFIX: Final = 5
#: Longest run of adjacent words indexed as one concatenated term.
_MAX_CONCAT: Final = 3
#: Queries are cut to this many normalized characters: real questions are far
#: shorter, and it bounds the work a pasted essay can cause (~2 ms at most).
_MAX_QUERY_CHARS: Final = 120

# Query words that carry no meaning for catalog search. Vietnamese is left
# out on purpose: once diacritics are stripped its function words collide
# with content words (ở/ổ -> "o", đâu/đậu -> "dau").
_STOPWORD_TEXT: Final = """
    a an the i me my we our you your it its this that these those to of in on
    at for from by with and or is are was were be been am do does did how
    where what when who which can could would should will want wanted need
    needs get got please there here im just some any about
    من را به از در که کجا چطور چگونه می ها های و با برای یک است این ان
    خواهم میخواهم کنم کنید باید
"""
_STOPWORDS: Final = frozenset(_STOPWORD_TEXT.split())

# Simplified -> Traditional Chinese for characters common in service queries.
# Lets a resident on a simplified keyboard find zh-Hant texts; Japanese kanji
# that share the simplified form (e.g. 税, 灯) fold the same way on both sides.
_SIMPLIFIED_PAIRS: Final = (
    "灯燈费費车車证證书書馆館报報税稅电電废廢弃棄树樹声聲许許执執图圖预預约約"
    "结結产產缴繳罚罰单單违違号號灾災讯訊检檢营營业業养養记記园園场場体體儿兒"
    "补補贴貼长長卫衛涂塗鸦鴉积積桥橋坏壞红紅绿綠问問题題处處厅廳办辦请請订訂"
    "码碼动動区區邻鄰话話网網门門数數龄齡无無学學复復发發楼樓为為边邊务務员員"
    "医醫疗療药藥护護诊診际際国國关關开開饮飲净淨脏髒卖賣买買货貨运運输輸轮輪"
    "乱亂丢丟扫掃洁潔环環险險们們这這个個么麼说說没沒给給让讓时時间間过過还還"
    "经經济濟贫貧辆輛驾駕驶駛灭滅宠寵猫貓针針阅閱读讀篮籃烧燒礼禮离離亲親属屬"
    "柜櫃垫墊旧舊断斷线線闹鬧盗盜窃竊脚腳烟煙雾霧紧緊风風损損喷噴标標规規迁遷"
    "纳納种種录錄饭飯账賬钱錢银銀邮郵里裡厨廚"
)

_CHAR_MAP: Final[dict[int, str]] = {
    ord("đ"): "d",
    ord("ي"): "ی",  # Arabic yeh -> Persian yeh
    ord("ى"): "ی",  # alef maksura
    ord("ك"): "ک",  # Arabic kaf -> Persian keheh
    ord("ة"): "ه",
    ord("ۀ"): "ه",
    0x200C: " ",  # ZWNJ: "می‌خواهم" == "می خواهم"; concatenation covers "میخواهم"
    0x200D: "",
    0x200E: "",
    0x200F: "",
    0xFEFF: "",
    0x0640: "",  # tatweel (kashida) is decoration only
    **{0x0660 + i: str(i) for i in range(10)},  # Arabic-Indic digits
    **{0x06F0 + i: str(i) for i in range(10)},  # Persian digits
    **{0x30A1 + i: chr(0x3041 + i) for i in range(0x30F6 - 0x30A1 + 1)},  # katakana
    **{ord(_SIMPLIFIED_PAIRS[i]): _SIMPLIFIED_PAIRS[i + 1] for i in range(0, len(_SIMPLIFIED_PAIRS), 2)},
}

_SPACE_RE: Final = re.compile(r"\s+")
_CHUNK_RE: Final = re.compile(r"\S+")


def _is_stripped_mark(ch: str) -> bool:
    """Combining marks that are accents, not letters (kana voicing is kept)."""
    cp = ord(ch)
    return (
        0x0300 <= cp <= 0x036F  # Latin/Vietnamese diacritics
        or 0x064B <= cp <= 0x065F  # Arabic harakat, madda, hamza above/below
        or cp == 0x0670
        or 0x06D6 <= cp <= 0x06ED
    )


def _is_cjk(ch: str) -> bool:
    """Han, kana and the prolonged-sound mark: scripts written without spaces."""
    cp = ord(ch)
    return (
        0x3040 <= cp <= 0x30FF
        or 0x3400 <= cp <= 0x4DBF
        or 0x4E00 <= cp <= 0x9FFF
        or 0xF900 <= cp <= 0xFAFF
        or 0x20000 <= cp <= 0x3134F
        or cp == 0x3005  # 々
    )


def normalize(text: str) -> str:
    """Fold ``text`` to the form both the index and the queries are compared in.

    Casefolds, unifies full/half width (NFKC), strips Latin and Arabic-script
    diacritics (Vietnamese "rác thải" -> "rac thai", "đ" -> "d"), unifies
    Arabic/Persian letter variants and digits, turns ZWNJ into a space, maps
    common simplified Chinese characters to traditional and katakana to
    hiragana, replaces punctuation with spaces and collapses whitespace.
    CJK and Persian letters are kept.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    decomposed = unicodedata.normalize("NFD", folded)
    stripped = "".join(ch for ch in decomposed if not _is_stripped_mark(ch))
    mapped = unicodedata.normalize("NFC", stripped.translate(_CHAR_MAP))
    cleaned = "".join(ch if unicodedata.category(ch)[0] in "LNM" else " " for ch in mapped)
    return _SPACE_RE.sub(" ", cleaned).strip()


def _stem(word: str) -> str:
    """Strip plural endings so "potholes" meets "pothole" (English, Persian)."""
    if word.isascii():
        if len(word) <= 3 or not word.isalpha():
            return word
        if word.endswith("ies") and len(word) > 4:
            return word[:-3] + "y"
        if word.endswith(("sses", "shes", "ches", "xes", "zes")):
            return word[:-2]
        if word.endswith("s") and not word.endswith(("ss", "us", "is")):
            return word[:-1]
        return word
    if len(word) >= 6 and word.endswith("های"):
        return word[:-3]
    if len(word) >= 5 and word.endswith("ها"):
        return word[:-2]
    return word


@dataclass(frozen=True, slots=True)
class _Token:
    """One query/text position: a stemmed word or a CJK bigram/unigram."""

    term: str
    raw: str
    start: int
    end: int
    cjk: bool


def _tokenize(norm: str) -> list[_Token]:
    """Split normalized text into word tokens and CJK bigrams (or unigrams)."""
    tokens: list[_Token] = []
    for chunk in _CHUNK_RE.finditer(norm):
        text, base = chunk.group(), chunk.start()
        i = 0
        while i < len(text):
            cjk = _is_cjk(text[i])
            j = i + 1
            while j < len(text) and _is_cjk(text[j]) == cjk:
                j += 1
            run = text[i:j]
            if not cjk:
                tokens.append(_Token(_stem(run), run, base + i, base + j, False))
            elif len(run) == 1:
                tokens.append(_Token(run, run, base + i, base + j, True))
            else:
                for k in range(len(run) - 1):
                    gram = run[k : k + 2]
                    tokens.append(_Token(gram, gram, base + i + k, base + i + k + 2, True))
            i = j
    return tokens


def _concat_runs(tokens: Sequence[_Token]) -> Iterable[tuple[int, int, str]]:
    """Yield (first, last, term) for runs of 2.._MAX_CONCAT adjacent words."""
    for i, tok in enumerate(tokens):
        if tok.cjk:
            continue
        raw = tok.raw
        for j in range(i + 1, min(i + _MAX_CONCAT, len(tokens))):
            if tokens[j].cjk:
                break
            raw += tokens[j].raw
            yield i, j, _stem(raw)


def _index_terms(text: str) -> set[str]:
    """All terms a field text is findable by (words, concatenations, CJK grams)."""
    norm = normalize(text)
    tokens = _tokenize(norm)
    terms = {tok.term for tok in tokens}
    terms.update(term for _, _, term in _concat_runs(tokens))
    terms.update(ch for ch in norm if _is_cjk(ch))
    return terms


def _phrase_terms(norm_phrase: str) -> tuple[str, ...]:
    """The terms a (normalized) phrase must match, as used for expansions.

    Short word phrases become their concatenation, which the index holds for
    any spacing ("street light" -> "streetlight"); CJK phrases become grams.
    """
    tokens = _tokenize(norm_phrase)
    if not tokens:
        return ()
    if not any(tok.cjk for tok in tokens) and len(tokens) <= _MAX_CONCAT:
        return (_stem("".join(tok.raw for tok in tokens)),)
    return tuple(dict.fromkeys(tok.term for tok in tokens))


@dataclass(frozen=True)
class SearchDocument:
    """A searchable service: field name -> language -> texts.

    Field names are the keys of :data:`FIELD_WEIGHTS`; unknown fields are
    indexed with weight 1.0.
    """

    slug: str
    fields: Mapping[str, Mapping[str, Sequence[str]]]


@dataclass(frozen=True)
class SearchHit:
    """A ranked result; ``score`` is only meaningful relative to one query."""

    slug: str
    score: float


@dataclass(frozen=True)
class _SynonymPhrase:
    norm: str
    words: tuple[str, ...] | None  # stemmed words; None when the phrase has CJK
    terms: tuple[str, ...]


class Synonyms:
    """Per-language groups of interchangeable phrases used for query expansion."""

    def __init__(self, groups: Mapping[str, Sequence[Sequence[_SynonymPhrase]]]) -> None:
        """Internal: use :meth:`from_groups`, which normalizes the phrases."""
        self._groups = groups

    @classmethod
    def from_groups(cls, groups: Mapping[str, Sequence[Sequence[str]]]) -> Synonyms:
        """Build from ``{lang: [[phrase, ...], ...]}`` as in synonyms.yaml."""
        built: dict[str, list[list[_SynonymPhrase]]] = {}
        for lang, lang_groups in groups.items():
            for group in lang_groups:
                phrases: list[_SynonymPhrase] = []
                for phrase in dict.fromkeys(normalize(p) for p in group):
                    tokens = _tokenize(phrase)
                    terms = _phrase_terms(phrase)
                    if not terms:
                        continue
                    words = None if any(t.cjk for t in tokens) else tuple(t.term for t in tokens)
                    phrases.append(_SynonymPhrase(phrase, words, terms))
                if len(phrases) > 1:
                    built.setdefault(lang, []).append(phrases)
        return cls(built)

    def matches(
        self, norm: str, tokens: Sequence[_Token], langs: Iterable[str]
    ) -> list[tuple[frozenset[int], list[tuple[str, ...]]]]:
        """Find phrases in the query: (covered positions, alternative terms)."""
        found: list[tuple[frozenset[int], list[tuple[str, ...]]]] = []
        for lang in langs:
            for group in self._groups.get(lang, ()):
                for phrase in group:
                    for covered in _find_phrase(phrase, norm, tokens):
                        alts = [p.terms for p in group if p is not phrase]
                        found.append((covered, alts))
        return found


def _find_phrase(phrase: _SynonymPhrase, norm: str, tokens: Sequence[_Token]) -> list[frozenset[int]]:
    """Token positions where ``phrase`` occurs in the query."""
    hits: list[frozenset[int]] = []
    if phrase.words is not None:
        n = len(phrase.words)
        for i in range(len(tokens) - n + 1):
            window = tokens[i : i + n]
            if all(not t.cjk and t.term == w for t, w in zip(window, phrase.words, strict=True)):
                hits.append(frozenset(range(i, i + n)))
        if n > 1:  # "lamppost" typed as one word still matches "lamp post"
            hits.extend(frozenset({i}) for i, t in enumerate(tokens) if not t.cjk and (t.term,) == phrase.terms)
        return hits
    start = norm.find(phrase.norm)
    while start >= 0:
        end = start + len(phrase.norm)
        inside = [i for i, t in enumerate(tokens) if t.start >= start and t.end <= end]
        if not inside:
            inside = [i for i, t in enumerate(tokens) if t.start < end and t.end > start]
        if inside:
            hits.append(frozenset(inside))
        start = norm.find(phrase.norm, start + 1)
    return hits


@dataclass(frozen=True)
class _Slot:
    """Query positions that one set of alternatives can fill."""

    positions: frozenset[int]
    alternatives: tuple[tuple[tuple[str, ...], float], ...]


class SearchIndex:
    """Inverted index over :class:`SearchDocument` s; build once, query often."""

    def __init__(self, documents: Iterable[SearchDocument], synonyms: Synonyms) -> None:
        self._slugs: list[str] = []
        self._synonyms = synonyms
        # term -> doc index -> lang -> best field weight
        self._postings: dict[str, dict[int, dict[str, float]]] = {}
        self._word_vocab: dict[str, set[str]] = {}
        self._choices: dict[str, list[str]] = {}
        for doc_id, doc in enumerate(documents):
            self._slugs.append(doc.slug)
            for field_name, by_lang in doc.fields.items():
                weight = FIELD_WEIGHTS.get(field_name, 1.0)
                for lang, texts in by_lang.items():
                    vocab = self._word_vocab.setdefault(lang, set())
                    for text in texts:
                        for term in _index_terms(text):
                            langs = self._postings.setdefault(term, {}).setdefault(doc_id, {})
                            if weight > langs.get(lang, 0.0):
                                langs[lang] = weight
                            if not _is_cjk(term[0]):
                                vocab.add(term)
        total = len(self._slugs)
        for lang in self._word_vocab:  # warm the fuzzy-candidate cache: searches only read
            self._candidates(list(dict.fromkeys([lang, FALLBACK_LANG])))
        self._idf: dict[str, float] = {
            term: math.log(1.0 + (total - len(docs) + 0.5) / (len(docs) + 0.5)) for term, docs in self._postings.items()
        }

    def search(self, query: str, lang: str, limit: int = 20) -> list[SearchHit]:
        """Rank services for ``query`` typed by a user of language ``lang``."""
        norm = normalize(query[: _MAX_QUERY_CHARS * 4])[:_MAX_QUERY_CHARS].rstrip()
        tokens = _tokenize(norm)
        if not tokens or limit <= 0:
            return []
        lang_weights = {lang: 1.0}
        if lang != FALLBACK_LANG:
            lang_weights[FALLBACK_LANG] = _FALLBACK_WEIGHT
        slots = self._build_slots(norm, tokens, lang_weights)

        term_cache: dict[str, dict[int, float]] = {}
        per_doc: dict[int, list[float]] = {}
        for slot in slots:
            for doc_id, score in self._score_slot(slot, lang_weights, term_cache).items():
                row = per_doc.setdefault(doc_id, [0.0] * len(tokens))
                for pos in slot.positions:
                    row[pos] = max(row[pos], score)

        counted = [
            pos
            for pos, tok in enumerate(tokens)
            if tok.term not in _STOPWORDS and any(row[pos] > 0.0 for row in per_doc.values())
        ]
        if not counted:
            return []
        hits: list[SearchHit] = []
        for doc_id, row in per_doc.items():
            matched = [row[pos] for pos in counted if row[pos] > 0.0]
            if not matched:
                continue
            coverage = len(matched) / len(counted)
            score = sum(matched) * (0.5 + 0.5 * coverage)
            hits.append(SearchHit(self._slugs[doc_id], round(score, 6)))
        hits.sort(key=lambda hit: (-hit.score, hit.slug))
        return hits[:limit]

    # -- query expansion ---------------------------------------------------

    def _known(self, term: str, langs: Iterable[str]) -> bool:
        docs = self._postings.get(term)
        return docs is not None and any(lang in ls for ls in docs.values() for lang in langs)

    def _build_slots(self, norm: str, tokens: Sequence[_Token], lang_weights: Mapping[str, float]) -> list[_Slot]:
        """Turn the query into slots: words, concatenations, synonyms."""
        langs = list(lang_weights)
        slots: list[_Slot] = []
        last = len(tokens) - 1
        for pos, tok in enumerate(tokens):
            if tok.term in _STOPWORDS:
                continue
            alts: list[tuple[tuple[str, ...], float]] = [((tok.term,), 1.0)]
            if tok.cjk and len(tok.term) == 2:
                alts.append(((tok.term[0], tok.term[1]), _CJK_SPLIT_WEIGHT))
            elif not tok.cjk and not self._known(tok.term, langs):
                alts.extend(self._fuzzy(tok.term, langs))
                if pos == last:
                    alts.extend(self._prefix(tok.term, langs))
            slots.append(_Slot(frozenset({pos}), tuple(alts)))
        for first, end, term in _concat_runs(tokens):
            alts = [((term,), 1.0)] if self._known(term, langs) else self._fuzzy(term, langs)
            if alts:
                slots.append(_Slot(frozenset(range(first, end + 1)), tuple(alts)))
        syn_langs = dict.fromkeys([*langs, FALLBACK_LANG])
        for covered, alt_terms in self._synonyms.matches(norm, tokens, syn_langs):
            alts = [(terms, _SYNONYM_WEIGHT) for terms in alt_terms]
            slots.append(_Slot(covered, tuple(alts)))
        return slots

    def _candidates(self, langs: Sequence[str]) -> list[str]:
        key = "\x00".join(langs)
        if key not in self._choices:
            words: set[str] = set()
            for lang in langs:
                words |= self._word_vocab.get(lang, set())
            self._choices[key] = sorted(words)
        return self._choices[key]

    def _fuzzy(self, term: str, langs: Sequence[str]) -> list[tuple[tuple[str, ...], float]]:
        """Closest vocabulary words within an edit budget that grows with length."""
        size = len(term)
        budget = 0 if size < 4 else 1 if size <= 6 else 2 if size <= 10 else 3
        if budget == 0:
            return []
        found = process.extract(term, self._candidates(langs), scorer=OSA.distance, score_cutoff=budget, limit=None)
        if not found:
            return []
        best = min(int(dist) for _, dist, _ in found)
        closest = sorted(choice for choice, dist, _ in found if int(dist) == best)
        return [((choice,), _FUZZY_WEIGHTS[best]) for choice in closest[:_MAX_FUZZY]]

    def _prefix(self, term: str, langs: Sequence[str]) -> list[tuple[tuple[str, ...], float]]:
        """Completions for the word being typed ("recyc" -> "recycling")."""
        if len(term) < 3:
            return []
        found = [w for w in self._candidates(langs) if w.startswith(term) and w != term]
        found.sort(key=lambda w: (len(w), w))
        return [((w,), _PREFIX_WEIGHT) for w in found[:_MAX_PREFIX]]

    # -- scoring -----------------------------------------------------------

    def _term_scores(
        self, term: str, lang_weights: Mapping[str, float], cache: dict[str, dict[int, float]]
    ) -> dict[int, float]:
        """Per-document score of one term: idf x best (field x language) weight."""
        cached = cache.get(term)
        if cached is not None:
            return cached
        scores: dict[int, float] = {}
        idf = self._idf.get(term, 0.0)
        for doc_id, by_lang in self._postings.get(term, {}).items():
            best = max((w * lang_weights[lang] for lang, w in by_lang.items() if lang in lang_weights), default=0.0)
            if best > 0.0:
                scores[doc_id] = idf * best
        cache[term] = scores
        return scores

    def _score_slot(
        self, slot: _Slot, lang_weights: Mapping[str, float], cache: dict[str, dict[int, float]]
    ) -> dict[int, float]:
        """Best alternative per document; multi-term alternatives are averaged."""
        result: dict[int, float] = {}
        for terms, weight in slot.alternatives:
            per_term = [self._term_scores(t, lang_weights, cache) for t in terms]
            docs = set().union(*per_term)
            for doc_id in docs:
                score = weight * sum(s.get(doc_id, 0.0) for s in per_term) / len(terms)
                if score > result.get(doc_id, 0.0):
                    result[doc_id] = score
        return result


def _texts(value: Any) -> dict[str, list[str]]:
    """Coerce ``{lang: text}`` or ``{lang: [texts]}`` to ``{lang: [texts]}``."""
    if not isinstance(value, Mapping):
        return {}
    out: dict[str, list[str]] = {}
    for lang, texts in value.items():
        items = [texts] if isinstance(texts, str) else list(texts or ())
        cleaned = [str(t) for t in items if t]
        if cleaned:
            out[str(lang)] = cleaned
    return out


def load_search_documents(
    services: Sequence[Mapping[str, Any]],
    departments: Sequence[Mapping[str, Any]] = (),
    categories: Sequence[Mapping[str, Any]] = (),
) -> list[SearchDocument]:
    """Build documents from the parsed YAML records (services.yaml etc.).

    ``departments`` and ``categories`` are the lists from departments.yaml
    and categories.yaml; their translated names make "health" or "permits"
    find every service of that department or category.
    """
    dept_names = {str(d["slug"]): _texts(d.get("name")) for d in departments}
    cat_names = {str(c["slug"]): _texts(c.get("name")) for c in categories}
    documents: list[SearchDocument] = []
    for service in services:
        fields: dict[str, Mapping[str, Sequence[str]]] = {
            "name": _texts(service.get("name")),
            "keywords": _texts(service.get("keywords")),
            "summary": _texts(service.get("summary")),
            "category": cat_names.get(str(service.get("category")), {}),
            "department": dept_names.get(str(service.get("department")), {}),
        }
        documents.append(SearchDocument(str(service["slug"]), {k: v for k, v in fields.items() if v}))
    return documents
