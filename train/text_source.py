"""Random but realistic text for synthetic recognition lines.

    python -m train.text_source --dump-vocab FILE [--n-words 50000]   # write wordfreq's list, one word a line
    python -m train.text_source --show 30                               # print samples

`TextSource(charset).sample(rng)` mixes words (wordfreq's most frequent English words, or a vocabulary file, drawn
with Zipf-like weights by rank) with generated numbers, prices, dates, times, codes, phone numbers, URLs, e-mails,
person names and street addresses, in varied case and punctuation. The source holds no random state: everything
comes from the `random.Random` passed to `sample`, so a caller seeding it gets reproducible text.
Every sample is non-empty, stripped, at most `max_len` characters and uses only characters of `charset`.
The name lists below are small, common, hand-written lists.
"""

from __future__ import annotations

import argparse
import itertools
import random
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

WORD_KINDS = ("words", "mixed", "url", "email", "name", "address")  # kinds that may draw from the word list
DEFAULT_WEIGHTS: dict[str, float] = {
    "words": 0.42, "mixed": 0.08, "number": 0.06, "price": 0.06, "date": 0.05, "time": 0.03, "code": 0.05,
    "phone": 0.03, "url": 0.03, "email": 0.03, "name": 0.05, "address": 0.05, "chars": 0.06,
}

FIRST_NAMES = (
    "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara Richard Susan Joseph "
    "Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa Anthony Betty Mark Sandra Donald Ashley Steven "
    "Emily Paul Donna Andrew Michelle Joshua Carol Kevin Amanda Brian Melissa George Deborah Timothy Laura Ryan "
    "Rebecca Jacob Sharon Gary Cynthia Eric Kathleen Jonathan Amy Stephen Anna Larry Angela Justin Emma Scott "
    "Olivia Frank Sophie Peter Hannah Oliver Chloe Harry Lucy Jack Grace Noah Mia Liam Ava Lucas Zoe Leo Ella "
    "Hugo Clara Max Julia Omar Sara Ali Maria Luis Ana Carlos Elena Ivan Nina Raj Priya Wei Mei Kenji Yuki"
).split()
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson "
    "Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis "
    "Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera "
    "Campbell Mitchell Carter Roberts Evans Turner Phillips Parker Collins Edwards Stewart Morris Murphy Cook "
    "Rogers Morgan Cooper Peterson Reed Bailey Bell Kelly Howard Ward Cox Richardson Wood Watson Brooks Bennett "
    "Gray James Hughes Price Sanders Myers Long Ross Foster Patel Singh Khan Chen Wang Kim Schmidt Muller Rossi "
    "Dubois Silva Novak Jensen O'Brien McDonald MacLeod Fitzgerald"
).split()
STREET_NAMES = (
    "Main Oak Pine Maple Cedar Elm Washington Lake Hill Park Church High Station Mill Bridge Victoria Queen King "
    "Market School North South West East River Spring Sunset Lincoln Jackson Franklin Highland Meadow Forest "
    "Chestnut Walnut Willow Cherry Ridge Valley Green Garden Grove Harbor Union Center Broad Water Bay Beach"
).split()
STREET_TYPES = "St Street Ave Avenue Rd Road Blvd Lane Ln Dr Drive Way Ct Court Pl Place Sq Square Hwy Terrace".split()
CITIES = (
    "Springfield,Riverside,Franklin,Greenville,Bristol,Clinton,Fairview,Salem,Madison,Georgetown,Arlington,"
    "Ashland,Dover,Oxford,Jackson,Burlington,Manchester,Milton,Newport,Auburn,Dayton,Lexington,Milford,Winchester,"
    "Cambridge,Hudson,Kingston,Chester,Portland,Austin,Denver,Boston,Seattle,Chicago,London,Leeds,Toronto,Sydney,"
    "Dublin,Berlin,Paris,Madrid,Rome,Vienna,New York,Los Angeles,San Diego,Las Vegas,St. Louis"
).split(",")
STATES = "AL AK AZ CA CO CT FL GA IL IN KY MA MD MI MN MO NC NJ NY OH OR PA TX VA WA WI".split()
TITLES = "Mr. Mrs. Ms. Dr. Prof. Mr Mrs Ms Dr".split()
TLDS = "com org net io co.uk de fr info biz edu gov us ca eu app shop".split()
MONTHS = ("January February March April May June July August September October November December").split()
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
CURRENCY_SIGNS = ("$", "\u20ac", "\u00a3", "\u00a5", "\u20b9")
CURRENCY_CODES = ("USD", "EUR", "GBP", "CHF", "JPY", "CAD", "AUD", "RS", "INR")
UNITS = ("kg", "g", "mg", "lb", "oz", "km", "m", "cm", "mm", "ml", "L", "%", "pcs", "x", "GB", "MB", "kW", "V")
OPEN_CLOSE = (('"', '"'), ("'", "'"), ("(", ")"), ("[", "]"), ("{", "}"), ("<", ">"), ("*", "*"), ("\u201c", "\u201d"))
TRAILING = ",.:;!?)"


def load_vocab(path: str | Path) -> list[str]:
    """Words of a vocabulary file, one a line, most frequent first (blank lines skipped)."""
    with open(path, encoding="utf-8") as f:
        return [w.strip() for w in f if w.strip()]


def wordfreq_words(n: int = 50000, lang: str = "en") -> list[str]:
    """wordfreq's `n` most frequent words (most frequent first)."""
    from wordfreq import top_n_list

    return list(top_n_list(lang, n))


class TextSource:
    """Samples text strings; see the module docstring. `weights` maps kind -> weight (missing kinds: 0)."""

    def __init__(self, charset: str | Iterable[str], max_len: int = 25, *, words: Sequence[str] | None = None,
                 vocab_file: str | Path | None = None, n_words: int = 50000, zipf_a: float = 0.8,
                 weights: Mapping[str, float] | None = None, max_tokens: int = 6,
                 p_upper: float | None = None) -> None:
        self.charset = frozenset(charset)
        if " " in self.charset and len(self.charset) == 1:
            raise ValueError("charset needs more than a space")
        self.max_len = int(max_len)
        self.max_tokens = int(max_tokens)
        self.p_upper = p_upper  # None: the default case mix (16% of cased texts all upper-case)
        if words is None and vocab_file is None and weights is not None and \
                not any(w > 0 for k, w in weights.items() if k in WORD_KINDS):
            words = []  # no kind that draws dictionary words: wordfreq is not needed
        if words is None:
            words = load_vocab(vocab_file) if vocab_file is not None else wordfreq_words(n_words)
        # numbers come from the generators (wordfreq writes digits as 0s); drop words we could not render
        self.words = [w for w in words if w and len(w) <= self.max_len and not any(c.isdigit() for c in w)
                      and set(w) <= self.charset]
        self._cum = list(itertools.accumulate((r + 1) ** -zipf_a for r in range(len(self.words))))
        self.currency_signs = [s for s in CURRENCY_SIGNS if s in self.charset]
        self._chars = sorted(self.charset)
        self._gens: dict[str, Callable[[random.Random], str]] = {
            "words": self._words, "mixed": self._mixed, "number": self._number, "price": self._price,
            "date": self._date, "time": self._time, "code": self._code, "phone": self._phone, "url": self._url,
            "email": self._email, "name": self._name, "address": self._address, "chars": self._rand_chars,
        }
        weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
        unknown = set(weights) - set(self._gens)
        if unknown:
            raise ValueError(f"unknown text kinds {sorted(unknown)}; known: {sorted(self._gens)}")
        if not self.words:
            weights.pop("words", None)
        # a kind that cannot produce valid text for this charset (e.g. words for a digits-only charset) is dropped
        probe = random.Random(12345)
        self.kinds = [k for k, w in weights.items() if w > 0 and any(self._valid(self._gens[k](probe))
                                                                       for _ in range(30))]
        if not self.kinds:
            self.kinds = ["chars"]
            weights = {"chars": 1.0}
        self._kind_cum = list(itertools.accumulate(weights[k] for k in self.kinds))

    # ---------------------------------------------------------------- public
    def sample(self, rng: random.Random, kind: str | None = None) -> str:
        """One text string (of `kind`, else of a kind drawn by weight)."""
        for _ in range(50):
            k = kind or rng.choices(self.kinds, cum_weights=self._kind_cum)[0]
            text = self._fit(self._gens[k](rng))
            if text:
                return text
        return self._fit(self._rand_chars(rng)) or next(c for c in self._chars if c != " ")

    # ---------------------------------------------------------------- helpers
    def _valid(self, text: str) -> bool:
        return bool(self._fit(text))

    def _fit(self, text: str) -> str:
        """`text` stripped and cut at a space to max_len; '' when it has characters outside the charset."""
        text = " ".join(text.split())
        if len(text) > self.max_len:
            cut = text.rfind(" ", 0, self.max_len + 1)
            text = text[:cut] if cut > 0 else ""
        text = text.strip()
        return text if text and set(text) <= self.charset else ""

    def word(self, rng: random.Random) -> str:
        return rng.choices(self.words, cum_weights=self._cum)[0] if self.words else ""

    def _case(self, rng: random.Random, text: str) -> str:
        if self.p_upper is not None and rng.random() < self.p_upper:  # e.g. scene text: signs are mostly capitals
            return text.upper()
        r = rng.random()
        if r < 0.50:
            return text
        if r < 0.70:
            return text[:1].upper() + text[1:]
        if r < 0.80:
            return " ".join(w[:1].upper() + w[1:] for w in text.split(" "))
        if r < 0.96:
            return text.upper()
        return "".join(c.upper() if rng.random() < 0.5 else c for c in text)

    @staticmethod
    def _decorate(rng: random.Random, text: str) -> str:
        """Sometimes punctuation after, quotes/brackets around, or a leading symbol."""
        r = rng.random()
        if r < 0.15:
            return text + rng.choice(TRAILING)
        if r < 0.22:
            o, c = rng.choice(OPEN_CLOSE)
            return o + text + c
        if r < 0.25:
            return rng.choice("#@&-+~/\\|^`=_") + text
        if r < 0.28:
            return text + rng.choice(("...", "!!", "?!", ":", " -", " /", "%", "'s"))
        return text

    def _n_tokens(self, rng: random.Random) -> int:
        return min(self.max_tokens, rng.choices((1, 2, 3, 4, 5, 6), weights=(30, 25, 20, 12, 8, 5))[0])

    # ---------------------------------------------------------------- generators
    def _words(self, rng: random.Random) -> str:
        n = self._n_tokens(rng)
        toks = [self.word(rng) for _ in range(n)]
        if n > 1 and rng.random() < 0.3:  # punctuation inside a phrase
            i = rng.randrange(n - 1)
            toks[i] += rng.choice(",,,.;:-")
        text = self._case(rng, " ".join(toks))
        return self._decorate(rng, text)

    def _mixed(self, rng: random.Random) -> str:
        parts = []
        simple = ("number", "price", "date", "time", "code", "words")
        for _ in range(rng.randint(2, 4)):
            k = rng.choices(simple, weights=(2, 1, 1, 1, 1, 4))[0]
            parts.append(self.word(rng) if k == "words" else self._gens[k](rng))
        if rng.random() < 0.5:
            parts[0] = self._case(rng, parts[0])
        sep = "" if rng.random() < 0.07 else rng.choice((" ", " ", " ", ": ", " - ", ", ", " x ", " / "))
        return self._decorate(rng, sep.join(parts))

    def _number(self, rng: random.Random) -> str:
        r = rng.random()
        digits = rng.choice((1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 9))
        n = rng.randrange(10 ** (digits - 1) if digits > 1 else 0, 10 ** digits)
        if r < 0.3:
            s = str(n)
        elif r < 0.5:
            s = f"{n:,}" if rng.random() < 0.7 else f"{n:,}".replace(",", rng.choice(". '"))
        elif r < 0.75:
            s = f"{n / 10 ** rng.randint(1, 3):.{rng.randint(1, 3)}f}"
            if rng.random() < 0.2:
                s = s.replace(".", ",")
        elif r < 0.85:
            s = f"{rng.randint(0, 100)}{rng.choice(('%', '.5%', ' %'))}"
        else:
            value = rng.choice((n % 1000, n))
            s = f"{value}{' ' if rng.random() < 0.7 else ''}{rng.choice(UNITS)}"
        if rng.random() < 0.1:
            s = rng.choice("-+") + s
        if rng.random() < 0.08:
            s = rng.choice(("No. ", "#", "x", "Qty ", "N=", "~")) + s
        return s

    def _amount(self, rng: random.Random) -> str:
        whole = int(10 ** rng.uniform(0, 6.5))
        cents = rng.randrange(100)
        r = rng.random()
        if r < 0.55:
            return f"{whole:,}.{cents:02d}" if whole >= 1000 and rng.random() < 0.7 else f"{whole}.{cents:02d}"
        if r < 0.75:  # European style 1.234,56
            return f"{whole:,}".replace(",", ".") + f",{cents:02d}"
        if r < 0.9:
            return f"{whole:,}" if rng.random() < 0.6 else str(whole)
        return f"{whole},{cents:02d}"

    def _price(self, rng: random.Random) -> str:
        amount = self._amount(rng)
        r = rng.random()
        if self.currency_signs and r < 0.6:
            sign = rng.choice(self.currency_signs)
            s = sign + amount if rng.random() < 0.8 else amount + rng.choice(("", " ")) + sign
        elif r < 0.8:
            code = rng.choice(CURRENCY_CODES)
            s = f"{code} {amount}" if rng.random() < 0.5 else f"{amount} {code}"
        else:
            s = amount
        if rng.random() < 0.12:
            s = "-" + s
        if rng.random() < 0.2:
            label = self._case(rng, rng.choice(("total", "subtotal", "tax", "price", "amount due", "balance",
                                                "cash", "change", "vat", "tip", "discount", "each", "net")))
            s = f"{label}{rng.choice((' ', ': ', ' '))}{s}"
        return s

    def _date(self, rng: random.Random) -> str:
        y, m, d = rng.randint(1950, 2035), rng.randint(1, 12), rng.randint(1, 28)
        month, day = MONTHS[m - 1], DAYS[rng.randrange(7)]
        mon = month[:3]
        sep = rng.choice("/-.")
        fmt = rng.randrange(12)
        if fmt == 0:
            s = f"{y}-{m:02d}-{d:02d}"
        elif fmt == 1:
            s = f"{d:02d}{sep}{m:02d}{sep}{y}"
        elif fmt == 2:
            s = f"{m:02d}{sep}{d:02d}{sep}{y % 100:02d}"
        elif fmt == 3:
            s = f"{d}{sep}{m}{sep}{y}"
        elif fmt == 4:
            s = f"{month} {d}, {y}"
        elif fmt == 5:
            s = f"{d} {mon} {y}"
        elif fmt == 6:
            s = f"{day[:3]}, {d} {mon} {y}"
        elif fmt == 7:
            s = f"{mon.upper()} {d:02d} {y}"
        elif fmt == 8:
            s = f"{y}/{m:02d}/{d:02d}"
        elif fmt == 9:
            s = f"{day}, {month} {d}"
        elif fmt == 10:
            suffix = ("st", "nd", "rd")[d % 10 - 1] if d % 10 in (1, 2, 3) and d not in (11, 12, 13) else "th"
            s = f"{d}{suffix} {month}"
        else:
            s = f"{d:02d}-{mon.upper()}-{y % 100:02d}"
        if rng.random() < 0.1:
            s = rng.choice(("Date: ", "DATE ", "Due ", "Exp. ", "Issued ")) + s
        return s

    def _time(self, rng: random.Random) -> str:
        h, mi, se = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
        fmt = rng.randrange(6)
        if fmt == 0:
            return f"{h:02d}:{mi:02d}"
        if fmt == 1:
            return f"{h:02d}:{mi:02d}:{se:02d}"
        if fmt == 2:
            return f"{(h % 12) or 12}:{mi:02d} {rng.choice(('AM', 'PM', 'am', 'pm', 'a.m.', 'p.m.'))}"
        if fmt == 3:
            return f"{(h % 12) or 12}.{mi:02d}{rng.choice(('am', 'pm'))}"
        if fmt == 4:
            return f"{h}h{mi:02d}"
        h2 = min(h + rng.randint(1, 8), 23)
        return f"{h:02d}:{mi:02d}-{h2:02d}:{mi:02d}" if rng.random() < 0.5 else f"{h}:{mi:02d} - {h2}:{mi:02d}"

    def _code(self, rng: random.Random) -> str:
        up, dig, hexd = string.ascii_uppercase, string.digits, "0123456789ABCDEF"

        def run(alpha: str, n: int) -> str:
            return "".join(rng.choice(alpha) for _ in range(n))

        fmt = rng.randrange(9)
        if fmt == 0:
            s = f"{run(up, rng.randint(2, 4))}-{run(dig, rng.randint(3, 6))}"
        elif fmt == 1:
            s = f"{rng.choice(('INV', 'ORD', 'REF', 'PO', 'TX', 'ID'))}{rng.choice('/-#: ')}{rng.randint(2015, 2030)}" \
                f"/{run(dig, rng.randint(3, 6))}"
        elif fmt == 2:
            s = "#" + run(dig, rng.randint(3, 8))
        elif fmt == 3:
            s = run(up + dig, rng.randint(5, 12))
        elif fmt == 4:
            s = run(hexd, rng.randint(4, 12)).lower() if rng.random() < 0.5 else run(hexd, 8)
        elif fmt == 5:
            s = "-".join(run(up + dig, 4) for _ in range(rng.randint(2, 4)))
        elif fmt == 6:
            s = f"{run(up, 2)}{run(dig, 2)} {run(dig, 1)}{run(up, 2)}"  # UK-postcode-like
        elif fmt == 7:
            prefix = rng.choice(("SKU", "Item", "Art.", "Lot", "Batch", "S/N", "Ref."))
            s = f"{prefix} {run(up + dig, rng.randint(4, 9))}"
        else:
            s = f"{run(dig, 3)}.{run(dig, 3)}.{run(dig, 3)}-{run(dig, 2)}"
        return s

    def _phone(self, rng: random.Random) -> str:
        def d(n: int) -> str:
            return "".join(rng.choice(string.digits) for _ in range(n))

        fmt = rng.randrange(7)
        if fmt == 0:
            s = f"({d(3)}) {d(3)}-{d(4)}"
        elif fmt == 1:
            s = f"{d(3)}-{d(3)}-{d(4)}"
        elif fmt == 2:
            s = f"+1 {d(3)} {d(3)} {d(4)}"
        elif fmt == 3:
            s = f"+{rng.randint(30, 99)} {d(2)} {d(4)} {d(4)}"
        elif fmt == 4:
            s = f"0{d(3)} {d(3)} {d(4)}"
        elif fmt == 5:
            s = f"{d(3)}.{d(3)}.{d(4)}"
        else:
            s = f"+{rng.randint(1, 99)}-{d(3)}-{d(7)}"
        if rng.random() < 0.2:
            s = rng.choice(("Tel: ", "Tel. ", "Phone: ", "Fax ", "Mob. ", "T: ")) + s
        return s

    def _domain(self, rng: random.Random) -> str:
        parts = [self.word(rng) for _ in range(rng.randint(1, 2))]
        name = rng.choice(("", "-")).join(parts).replace("'", "")
        return f"{name}.{rng.choice(TLDS)}"

    def _url(self, rng: random.Random) -> str:
        host = self._domain(rng)
        r = rng.random()
        if r < 0.35:
            s = "www." + host
        elif r < 0.7:
            s = rng.choice(("https://", "http://")) + rng.choice(("", "www.")) + host
        else:
            s = host
        if rng.random() < 0.4:
            s += "/" + self.word(rng).replace("'", "")
            if rng.random() < 0.3:
                s += f"?id={rng.randint(1, 9999)}"
        return s

    def _email(self, rng: random.Random) -> str:
        first, last = rng.choice(FIRST_NAMES).lower(), rng.choice(LAST_NAMES).lower().replace("'", "")
        fmt = rng.randrange(5)
        user = (f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}{rng.randint(1, 99)}",
                self.word(rng).replace("'", ""), f"{first}{rng.randint(1, 2020)}")[fmt]
        s = f"{user}@{self._domain(rng)}"
        return s.upper() if rng.random() < 0.05 else s

    def _name(self, rng: random.Random) -> str:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        fmt = rng.randrange(7)
        if fmt == 0:
            s = f"{first} {last}"
        elif fmt == 1:
            s = f"{rng.choice(TITLES)} {first} {last}"
        elif fmt == 2:
            s = f"{first[0]}. {last}"
        elif fmt == 3:
            s = f"{last}, {first}"
        elif fmt == 4:
            s = f"{first} {rng.choice(string.ascii_uppercase)}. {last}"
        elif fmt == 5:
            s = f"{first} {last}".upper()
        else:
            s = f"{rng.choice(TITLES)} {last}"
        return s

    def _address(self, rng: random.Random) -> str:
        street = f"{rng.choice(STREET_NAMES)} {rng.choice(STREET_TYPES)}"
        if rng.random() < 0.3:
            street += "."
        fmt = rng.randrange(6)
        if fmt == 0:
            s = f"{rng.randint(1, 9999)} {street}"
        elif fmt == 1:
            s = f"{rng.choice(CITIES)}, {rng.choice(STATES)} {rng.randint(10000, 99999)}"
        elif fmt == 2:
            s = f"{rng.choice(('Apt', 'Suite', 'Unit', 'Flat', 'Room', 'Fl.'))} {rng.randint(1, 40)}" \
                f"{rng.choice(('', '', 'A', 'B', 'C'))}"
        elif fmt == 3:
            s = f"{street} {rng.randint(1, 250)}, {rng.randint(10000, 99999)} {rng.choice(CITIES)}"
        elif fmt == 4:
            s = f"{rng.randint(1, 999)} {street}, {rng.choice(CITIES)}"
        else:
            s = f"P.O. Box {rng.randint(1, 9999)}"
        return s.upper() if rng.random() < 0.15 else s

    def _rand_chars(self, rng: random.Random) -> str:
        """Random characters of the charset (covers rare symbols); a few words long, single spaces."""
        n = rng.randint(1, min(self.max_len, 12))
        text = "".join(rng.choice(self._chars) for _ in range(n))
        return " ".join(text.split())


def _main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dump-vocab", metavar="FILE", help="write wordfreq's top words to FILE, one a line")
    ap.add_argument("--n-words", type=int, default=50000)
    ap.add_argument("--show", type=int, default=0, help="print N samples (printable-ASCII charset)")
    ap.add_argument("--vocab-file", help="use this vocabulary file for --show")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.dump_vocab:
        words = wordfreq_words(args.n_words)
        Path(args.dump_vocab).write_text("\n".join(words) + "\n", encoding="utf-8")
        print(f"wrote {len(words)} words to {args.dump_vocab}")
    if args.show:
        src = TextSource(string.printable[:95], vocab_file=args.vocab_file)
        rng = random.Random(args.seed)
        for _ in range(args.show):
            print(repr(src.sample(rng)))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
