"""Deterministic, fast seed data: the people held by the Marketo sandbox.

Faker draws small pools of realistic values (English and Japanese); a seeded numpy Generator then
samples those pools for every row, vectorised. Nothing reads the wall clock, so the same
(seed, size) gives the same frame on every machine (for the pinned Faker/numpy versions).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from faker import Faker

SANDBOX_SEED = 42
SANDBOX_SIZE = 2000
SANDBOX_CREATED_FROM = pd.Timestamp("2025-01-01T00:00:00Z")
SANDBOX_CREATED_UNTIL = pd.Timestamp("2026-06-30T00:00:00Z")

FIRST_ID = 1001
OWNER_COUNT = 20
POOL_SIZE = 400

# Approximate share of rows with each trait.
OWNED_SHARE = 0.5
LEAD_SHARE_OF_OWNED = 0.6
UNOWNED_WITH_LEAD_ID_SHARE = 0.3
JAPANESE_SHARE = 0.3
DUPLICATE_EMAIL_SHARE = 0.03
MISSING_OPTIONAL_SHARE = 0.1
ODD_NAME_SHARE = 0.02

LEAD_SOURCES = ["Website", "Trade Show", "Webinar", "Partner", "Paid Search", "List Import",
                "Sales Prospecting", "Content Syndication"]

# Hostile-but-real values: quoting, separators, newlines, emoji and accents must survive a sync.
ODD_FIRST_NAMES = ["Zoë", "José", 'Robert "Bob"', "Renée", "Ólafur", "😀 Sunny", "Jean-Luc"]
ODD_LAST_NAMES = ["O'Brien", "Smith, Jr.", "Müller", "D'Angelo", 'Quote"Mark', "Nguyễn", "Øster 🚀"]
ODD_COMPANIES = ["O'Reilly & Sons, Inc.", 'The "Best" Company', "Café Münster GmbH",
                 "🚀 Rocket Labs", "Smith, Jones, and Partners", "株式会社テスト, 東京"]
ODD_TITLES = ["Head of Sales\nEMEA", "VP, Sales & Marketing", 'Chief "Everything" Officer',
              "Directeur général adjoint — ventes",
              "Senior Vice President of Global Strategic Enterprise Partnerships, Alliances, "
              "Channel Development, Field Enablement, Revenue Operations and Customer Success "
              "for the Americas, Europe, the Middle East, Africa and Asia-Pacific regions "
              "(interim)"]


def generate_people(seed: int = SANDBOX_SEED, size: int = SANDBOX_SIZE) -> pd.DataFrame:
    """Return `size` Marketo people as a DataFrame with Marketo REST column names.

    Same (seed, size) gives the same frame everywhere. Ids start at 1001, increase with gaps, and
    follow createdAt order. Text columns are object dtype with None for missing values.
    """
    rng = np.random.default_rng(seed)
    pools = _draw_pools(seed)

    gaps = rng.integers(1, 4, size)  # ids increase by 1-3: realistic gaps from deleted records
    ids = FIRST_ID + np.cumsum(gaps) - gaps[:1].sum()
    japanese = rng.random(size) < JAPANESE_SHARE

    first, ascii_first = _pick_name(rng, japanese, pools["en_first"], pools["ja_first"])
    last, ascii_last = _pick_name(rng, japanese, pools["en_last"], pools["ja_last"])
    _sprinkle(rng, first, ODD_FIRST_NAMES, ODD_NAME_SHARE)
    _sprinkle(rng, last, ODD_LAST_NAMES, ODD_NAME_SHARE)

    local_part = _join(ascii_first, ".", ascii_last, ".", ids.astype(str))
    domain = rng.choice(pools["domains"], size)
    email = _join(local_part, "@", domain)
    _duplicate_some_emails(rng, email)

    company = _pick_by_language(rng, japanese, pools["en_company"], pools["ja_company"])
    _sprinkle(rng, company, ODD_COMPANIES, ODD_NAME_SHARE)
    title = _pick_by_language(rng, japanese, pools["en_title"], pools["ja_title"])
    _sprinkle(rng, title, ODD_TITLES, ODD_NAME_SHARE)
    phone = _pick_by_language(rng, japanese, pools["en_phone"], pools["ja_phone"])
    linkedin = _join(np.full(size, "https://www.linkedin.com/in/", dtype=object), local_part)
    lead_source = rng.choice(np.array(LEAD_SOURCES, dtype=object), size)
    for column in (phone, title, company, linkedin, lead_source):
        column[rng.random(size) < MISSING_OPTIONAL_SHARE] = None

    created, updated = _timestamps(rng, size)
    text_columns = {
        "firstName": first,
        "lastName": last,
        "email": email,
        "phone": phone,
        "company": company,
        "title": title,
        "linkedInProfileURL": linkedin,
        "leadSource": lead_source,
        **_salesforce_columns(rng, ids),
    }
    # Explicit object dtype keeps None for missing values (pandas 3 would infer "str" with NaN).
    frame = pd.DataFrame({"id": ids.astype(np.int64)})
    for name, values in text_columns.items():
        frame[name] = pd.Series(values, dtype=object)
    frame["unsubscribed"] = rng.random(size) < 0.05
    frame["emailInvalid"] = rng.random(size) < 0.02
    frame["leadScore"] = rng.integers(0, 101, size).astype(np.int64)
    frame["city"] = pd.Series(_pick_by_language(rng, japanese, pools["en_city"], pools["ja_city"]),
                              dtype=object)
    frame["createdAt"] = created
    frame["updatedAt"] = updated
    return frame


@functools.lru_cache(maxsize=8)
def _draw_pools(seed: int) -> dict[str, np.ndarray]:
    """Draw the small value pools with seeded Faker instances (the only Faker calls).

    Cached per seed (sandboxes in tests share them); callers only index the pools, never write.
    """
    en, ja = Faker("en_US"), Faker("ja_JP")
    en.seed_instance(seed)
    ja.seed_instance(seed)

    def pool(make, n: int = POOL_SIZE) -> np.ndarray:
        return np.array([make() for _ in range(n)], dtype=object)

    def name_pool(make_pair) -> np.ndarray:
        # Rows of (display name, ASCII form for the email address).
        return np.array([make_pair() for _ in range(POOL_SIZE)], dtype=object)

    def english_pair(make):
        name = make()
        return name, "".join(ch for ch in name.lower() if ch.isascii() and ch.isalpha())

    def japanese_pair(make_pair):
        kanji, kana, romanized = make_pair()
        # One in four Japanese names is shown in katakana instead of kanji.
        return (kana if ja.random_int(0, 3) == 0 else kanji), romanized.lower()

    return {
        "en_first": name_pool(lambda: english_pair(en.first_name)),
        "en_last": name_pool(lambda: english_pair(en.last_name)),
        "ja_first": name_pool(lambda: japanese_pair(ja.first_name_pair)),
        "ja_last": name_pool(lambda: japanese_pair(ja.last_name_pair)),
        "en_company": pool(en.company, 200),
        "ja_company": pool(ja.company, 200),
        "en_title": pool(en.job, 200),
        "ja_title": pool(ja.job, 100),
        "en_phone": pool(lambda: f"+1-{en.numerify('###-###-####')}"),
        "ja_phone": pool(lambda: f"+81-{ja.numerify('90-####-####')}"),
        "en_city": pool(en.city, 200),
        "ja_city": pool(ja.city, 100),
        "domains": pool(lambda: en.unique.domain_name(), 60),
    }


def _pick_by_language(rng: np.random.Generator, japanese: np.ndarray,
                      english_pool: np.ndarray, japanese_pool: np.ndarray) -> np.ndarray:
    """Sample one value per row: from the Japanese pool where `japanese`, else the English one."""
    size = len(japanese)
    english_values = english_pool[rng.integers(0, len(english_pool), size)]
    japanese_values = japanese_pool[rng.integers(0, len(japanese_pool), size)]
    return np.where(japanese, japanese_values, english_values).astype(object)


def _pick_name(rng: np.random.Generator, japanese: np.ndarray, english_pool: np.ndarray,
               japanese_pool: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample (display name, ASCII name) pairs per row; both columns come from the same pool row."""
    size = len(japanese)
    english_rows = english_pool[rng.integers(0, len(english_pool), size)]
    japanese_rows = japanese_pool[rng.integers(0, len(japanese_pool), size)]
    pairs = np.where(japanese[:, None], japanese_rows, english_rows)
    return pairs[:, 0].copy(), pairs[:, 1].copy()


def _sprinkle(rng: np.random.Generator, column: np.ndarray, odd_values: list[str],
              share: float) -> None:
    """Overwrite about `share` of the rows with hostile values, in place."""
    rows = np.flatnonzero(rng.random(len(column)) < share)
    column[rows] = np.array(odd_values, dtype=object)[rng.integers(0, len(odd_values), len(rows))]


def _join(*parts: np.ndarray | str) -> np.ndarray:
    """Concatenate string arrays element-wise (numpy object arrays add as Python strings)."""
    result = parts[0]
    for part in parts[1:]:
        result = result + part
    return np.asarray(result, dtype=object)


def _duplicate_some_emails(rng: np.random.Generator, email: np.ndarray) -> None:
    """Give ~3% of the rows the email of another row: two ids, one address (Marketo allows it)."""
    size = len(email)
    pair_count = int(size * DUPLICATE_EMAIL_SHARE / 2)
    if pair_count == 0:
        return
    rows = rng.choice(size, pair_count * 2, replace=False)
    email[rows[pair_count:]] = email[rows[:pair_count]]


def _timestamps(rng: np.random.Generator, size: int) -> tuple[pd.Series, pd.Series]:
    """createdAt in the sandbox window, ascending with id; updatedAt in [createdAt, window end]."""
    start = int(SANDBOX_CREATED_FROM.timestamp())
    end = int(SANDBOX_CREATED_UNTIL.timestamp())
    created_s = np.sort(rng.integers(start, end, size))
    updated_s = created_s + (rng.random(size) * (end - created_s)).astype(np.int64)
    created = pd.to_datetime(created_s, unit="s", utc=True)
    updated = pd.to_datetime(updated_s, unit="s", utc=True)
    return created, updated


def _salesforce_id(prefix: str, numbers: np.ndarray) -> np.ndarray:
    """18-character Salesforce-like ids: 3-char key prefix, org-ish infix, 10 digits, suffix."""
    digits = pd.Series(numbers).astype("str").str.zfill(10)  # vectorised (Arrow-backed strings)
    return (prefix + "5g" + digits + "AAE").to_numpy(dtype=object)


def _salesforce_columns(rng: np.random.Generator, ids: np.ndarray) -> dict[str, np.ndarray]:
    """sfdc* columns: ~50% owned (60% Lead, 40% Contact); unowned rows sometimes keep a lead id."""
    size = len(ids)
    owned = rng.random(size) < OWNED_SHARE
    is_lead = owned & (rng.random(size) < LEAD_SHARE_OF_OWNED)
    is_contact = owned & ~is_lead
    unowned_lead = ~owned & (rng.random(size) < UNOWNED_WITH_LEAD_ID_SHARE)

    owners = _salesforce_id("005", np.arange(1, OWNER_COUNT + 1))
    account_count = max(1, size // 10)
    accounts = _salesforce_id("001", np.arange(1, account_count + 1))

    none = np.full(size, None, dtype=object)
    sfdc_type = none.copy()
    sfdc_type[is_lead | unowned_lead] = "Lead"
    sfdc_type[is_contact] = "Contact"
    lead_id = np.where(is_lead | unowned_lead, _salesforce_id("00Q", ids), none)
    contact_id = np.where(is_contact, _salesforce_id("003", ids), none)
    account_id = np.where(is_contact, accounts[rng.integers(0, account_count, size)], none)
    owner_id = np.where(owned, owners[rng.integers(0, OWNER_COUNT, size)], none)
    return {
        "sfdcType": sfdc_type,
        "sfdcLeadId": lead_id.astype(object),
        "sfdcContactId": contact_id.astype(object),
        "sfdcAccountId": account_id.astype(object),
        "sfdcLeadOwnerId": owner_id.astype(object),
    }
