"""Deterministic synthetic estate: realistic Chinese property-management master data for demos and load tests.

``seed_estate(units=N, seed=S)`` writes exactly N units. Everything is drawn from one ``random.Random(S)``
and all dates are relative to the fixed anchor day 2026-11-01, so the same seed always gives the same
estate (on SQLite and PostgreSQL alike).

Shape of the generated estate
-----------------------------
* **Projects** — about three in four are residential estates (小区, 1,000–4,000 units), one in four an office
  building (写字楼, 200–800 units). Codes are ``S{seed}-0001``, ``S{seed}-0002``… so different seeds never
  clash. Each project has a developer (a company Party, ``natural_key = dev:{code}``), which is liable for
  the unsold units.
* **Buildings and units** (codes are short: ``1``, ``2``… and ``P1`` for the garage):

  - residential buildings of 6 (多层), 11–18 (小高层) or 18–33 (高层) floors, 1–3 entrances (单元) and
    2–4 flats per floor; unit code ``幢-单元-房号`` such as ``3-2-1502``; 60–160 m²;
  - shops (商铺) on the ground floor of some taller buildings (``3-105``) or in a 商业街 building;
  - in some estates villas: 联排别墅 rows (180–280 m²) and 独立别墅 (250–400 m²), code ``21-3``;
  - an underground garage ``P1`` with parking spaces (车位, 12–15 m², code ``P1-0001``);
  - office projects: one or two towers (A座/B座) of 10–40 floors, shops on floor 1, offices of 80–1,200 m²
    above (``1-1503``).
* **Occupancy** — flats are mostly 自住; ~15 % 出租, ~13 % 空置 (investors owning 2–3 vacant units,
  owners living elsewhere, and ~2.5 % unsold), ~3 % 装修中 (more in recently delivered buildings).
  Office units are owned by companies (a company often owns several adjacent units) or by individual
  investors, and about half are let to companies. Every unit has one UnitStateChange row for its current
  state; a few percent also have an earlier one (空置→自住, 装修中→自住, 自住→出租).
* **Parties** — persons with Chinese names and valid 18-digit resident ID numbers (``id:{ID}``), companies
  with unified social credit codes (``id:{USCC}``). Owners may be retired, business owners or live in
  another city. Parking spaces mostly belong to flat owners of the same estate. Unsold units have no owner
  row. Some rented units have 1–3 earlier tenants (ended rows), a few units changed hands (the old owner's
  row is ended, the new owner's starts the next day). Company tenants and some company owners have a
  designated signer (a person with a mobile).
* **Contacts** — every party has at least one contact and exactly one primary: persons 1–2 mobiles (about
  5 % known dead: 停机/空号/错号, with the day they were checked), some landlines, e-mails, WeChat openids,
  and a mailing address in another city for owners living elsewhere; companies a switchboard landline,
  e-mail and registered address. ``source`` is ``seed`` everywhere.

Writing is done without the ORM: rows are plain tuples with pre-assigned primary keys (MAX(id)+1 onwards),
buffered per table and handed over in batches of about 50,000 rows (at building boundaries) to a writer
thread, which sends them with COPY on PostgreSQL and ``executemany`` elsewhere while the next batch is
generated; memory stays bounded. Everything happens in one transaction. On PostgreSQL the foreign keys of
the estate tables (and the secondary indexes of tables that were empty) are dropped for the load and
re-created from their own definitions at the end, which checks all rows at once. Run it while nobody else
writes to the estate tables: they are locked for the duration.
"""

from __future__ import annotations

import datetime as dt
import math
import queue
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connection, transaction

from wuye.estate.models import Building, ContactPoint, Occupancy, Party, Project, Unit, UnitStateChange

ANCHOR = dt.date(2026, 11, 1)
STAMP = dt.datetime(2026, 11, 1, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai: created_at/updated_at of every row
SOURCE = "seed"
DEMO_SEED = 2026
FLUSH_ROWS = 50_000


class SeedConflict(Exception):
    """The database already holds projects with the codes this seed would generate."""


# --- days -----------------------------------------------------------------------------------------------
# Dates are handled as day numbers counted from DAY0; DAYS[n] is the ISO text of day n.
DAY0 = dt.date(1995, 1, 1)
TODAY = (ANCHOR - DAY0).days  # the anchor as a day number; generated dates are all before it
DAYS = [(DAY0 + dt.timedelta(days=n)).isoformat() for n in range(TODAY + 1)]
YEAR = 365


def _day(year: int, month: int = 1, day: int = 1) -> int:
    return (dt.date(year, month, day) - DAY0).days


# --- reference data ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class City:
    name: str
    area_code: str           # landline prefix
    landline_leads: str      # first digit of local 8-digit numbers
    regions: tuple[str, ...]  # resident-ID region codes of its districts
    districts: tuple[str, ...]
    roads: tuple[str, ...]


CITIES = (
    City("杭州", "0571", "8", ("330102", "330105", "330106", "330108", "330109", "330110"),
         ("上城区", "拱墅区", "西湖区", "滨江区", "萧山区", "余杭区"),
         ("文三路", "莫干山路", "江南大道", "钱江路", "学院路", "古墩路", "秋涛路", "丰潭路", "文一西路")),
    City("上海", "021", "536", ("310101", "310104", "310105", "310112", "310115"),
         ("黄浦区", "徐汇区", "长宁区", "闵行区", "浦东新区"),
         ("南京西路", "漕溪北路", "虹桥路", "莘庄路", "张杨路", "世纪大道", "龙华路")),
    City("北京", "010", "68", ("110101", "110105", "110108", "110114"),
         ("东城区", "朝阳区", "海淀区", "昌平区"),
         ("建国路", "中关村大街", "望京街", "安立路", "回龙观西大街")),
    City("南京", "025", "85", ("320102", "320104", "320106", "320115"),
         ("玄武区", "秦淮区", "鼓楼区", "江宁区"), ("中山路", "汉中路", "龙蟠路", "双龙大道")),
    City("苏州", "0512", "6", ("320505", "320506", "320508"),
         ("虎丘区", "吴中区", "姑苏区"), ("干将路", "人民路", "星湖街", "东吴北路")),
    City("宁波", "0574", "8", ("330203", "330205", "330212"),
         ("海曙区", "江北区", "鄞州区"), ("中山西路", "天童路", "钱湖北路")),
    City("广州", "020", "38", ("440103", "440104", "440106"),
         ("荔湾区", "越秀区", "天河区"), ("天河路", "中山五路", "黄埔大道", "体育西路")),
    City("深圳", "0755", "28", ("440303", "440304", "440305"),
         ("罗湖区", "福田区", "南山区"), ("深南大道", "科苑路", "华强北路", "滨海大道")),
    City("成都", "028", "86", ("510104", "510105", "510107"),
         ("锦江区", "青羊区", "武侯区"), ("天府大道", "人民南路", "蜀都大道")),
    City("武汉", "027", "85", ("420102", "420106", "420111"),
         ("江岸区", "武昌区", "洪山区"), ("解放大道", "中北路", "珞喻路")),
)
CITY_WEIGHTS = (5, 2, 1, 1, 1, 1, 1, 1, 1, 1)  # the company is strongest in Hangzhou
HOME_CITY = 0

# Birthplaces of people who moved to the project's city (region codes of other prefectures).
ORIGIN_REGIONS = (
    "330302", "330402", "330681", "330782", "331002", "340102", "341202", "360102", "360502", "370102",
    "370202", "410105", "411302", "420102", "421002", "430102", "430602", "450102", "500103", "610113",
    "130102", "210102", "220102", "230103", "320602", "321102", "350102", "350203", "441302", "522601",
)

_SURNAMES_BY_FREQUENCY = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
# A pool with repetitions approximating real frequencies (王/李/张 about 7 % each), plus a few 复姓.
SURNAME_POOL = tuple(
    [s for rank, s in enumerate(_SURNAMES_BY_FREQUENCY) for _ in range(max(1, 120 // (rank + 2)))]
    + ["欧阳", "司马", "诸葛", "上官"]
)
MALE_CHARS = tuple("伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宁浩宇俊峰建国志文晨昊博子轩然睿泽凯海东林永兴成龙庆立新德安")
FEMALE_CHARS = tuple("芳娜敏静丽艳娟霞秀玲燕婷雪慧颖琳晶红梅兰萍洁倩欣怡佳雅梦涵诗悦琪璐露薇晓思雨彤月丹")

ESTATE_WORDS = ("翠湖", "锦绣", "金色", "阳光", "绿洲", "滨江", "香樟", "紫薇", "桂花", "东方", "碧水", "御景",
                "玉兰", "湖畔", "春江", "西溪", "云栖", "青枫", "丽景", "明珠", "和园", "润泽", "星河", "天悦",
                "万和", "华府", "嘉禾", "枫林", "望江", "听涛", "半岛", "水岸", "朝晖", "秋月", "兰亭", "梧桐")
ESTATE_SUFFIXES = ("花园", "苑", "家园", "公寓", "华庭", "府", "名邸", "新村", "雅苑", "嘉园", "花苑", "山庄",
                   "小区", "城")
OFFICE_WORDS = ("金融", "国际", "世贸", "环球", "中央", "创业", "科技", "未来", "汇金", "时代", "财富", "开元",
                "银泰", "恒隆", "嘉里", "协信", "东方", "中兴", "华润", "新世纪")
OFFICE_SUFFIXES = ("中心大厦", "大厦", "广场", "商务中心", "中心", "国际大厦")
BRAND_CHARS = tuple("瑞博恒泰鼎华信达启创诚远腾安盛弘宏睿智联拓云峰景晟昊卓越嘉裕通宸澜祥")
INDUSTRIES = ("科技有限公司", "网络科技有限公司", "信息技术有限公司", "贸易有限公司", "企业管理咨询有限公司",
              "文化传媒有限公司", "餐饮管理有限公司", "医疗器械有限公司", "教育科技有限公司", "建筑设计有限公司",
              "电子商务有限公司", "投资管理有限公司", "供应链管理有限公司", "广告有限公司")
SHOP_TRADES = ("便利店", "水果店", "美发店", "洗衣店", "药房", "面馆", "快餐店", "烟酒店", "宠物店", "花店")

MOBILE_PREFIXES = tuple(
    [str(p) for p in range(130, 140)]
    + [str(p) for p in range(150, 160) if p != 154]
    + ["173", "175", "176", "177", "178"]
    + [str(p) for p in range(180, 190)]
    + ["191", "193", "195", "198", "199"]
)
MAIL_DOMAINS = ("163.com", "126.com", "sina.com", "sohu.com", "foxmail.com", "outlook.com")
OPENID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
DEAD = ("suspended", "suspended", "empty", "wrong")  # 停机 is the commonest way a number dies
PREFERRED_TIMES = ("工作日晚上", "周末上午", "中午12点到1点", "晚上7点以后", "白天", "工作日白天")
SECOND_PHONE_LABELS = ("配偶", "子女", "备用", "家人")

# Cumulative thresholds per kind of unit: unsold, investor-vacant, other vacant, decorating, rented; the rest is
# 自住 (owner-used). Parking spaces are either unsold or in use.
PROFILES = {
    "flat": (0.025, 0.095, 0.135, 0.165, 0.315),
    "villa": (0.03, 0.06, 0.16, 0.19, 0.24),
    "shop": (0.05, 0.10, 0.15, 0.17, 0.72),
    "office": (0.03, 0.07, 0.15, 0.18, 0.68),
    "parking": (0.15, 0.15, 0.15, 0.15, 0.15),
}
CATEGORY = {"low_rise": "flat", "mid_rise": "flat", "high_rise": "flat", "townhouse": "villa", "villa": "villa",
            "shop": "shop", "office": "office", "parking": "parking"}

# --- resident ID numbers (GB 11643) and unified social credit codes (GB 32100) ------------------------------
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
BIRTH0 = dt.date(1936, 1, 1)
_BIRTHS = [BIRTH0 + dt.timedelta(days=n) for n in range((dt.date(2006, 12, 31) - BIRTH0).days + 1)]


def _weighted(digits: str, weights: Sequence[int]) -> int:
    return sum(int(c) * w for c, w in zip(digits, weights, strict=True))


# (17-digit prefix as an int, weighted digit sum) for every part, so a check digit is three lookups and a mod.
BIRTH_PARTS = [(int(d.strftime("%Y%m%d")), _weighted(d.strftime("%Y%m%d"), _ID_WEIGHTS[6:14])) for d in _BIRTHS]
SEQ_SUMS = [_weighted(f"{n:03d}", _ID_WEIGHTS[14:]) for n in range(1000)]
BIRTH_TODAY = (ANCHOR - BIRTH0).days  # index the anchor day would have in _BIRTHS


def _region_part(code: str) -> tuple[int, int]:
    return int(code) * 10**11, _weighted(code, _ID_WEIGHTS[:6])


_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check(body17: str) -> str:
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(body17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


# --- layout -------------------------------------------------------------------------------------------------

@dataclass
class ProjectSpec:
    code: str
    name: str
    brand: str  # the distinctive part of the name, reused in the developer's name
    kind: str   # ProjectKind value
    units: int
    city: City


@dataclass
class BuildingPlan:
    code: str
    name: str
    floors: int | None
    delivered: int  # day number
    # (entrance, floor, number, code, property_type, area text)
    units: list[tuple[str, int, str, str, str, str]] = field(default_factory=list)


def _area_text(value: float) -> str:
    cents = int(value * 100)
    return f"{cents // 100}.{cents % 100:02d}"


def _area(rng: random.Random, low: float, high: float) -> str:
    return _area_text(rng.uniform(low, high))


def _flat_kind(floors: int) -> str:
    return "low_rise" if floors <= 7 else "mid_rise" if floors <= 18 else "high_rise"


FLAT_AREAS = {"low_rise": (60, 130), "mid_rise": (70, 145), "high_rise": (75, 160)}
# Weights of 多层/小高层/高层 for the flat buildings of one estate.
ESTATE_STYLES = ((6, 1, 0), (1, 4, 2), (0, 2, 5), (2, 3, 3), (0, 1, 6))


def _phases(rng: random.Random, count: int, first_delivery: int) -> list[int]:
    """Delivery day of each of ``count`` buildings: the estate is handed over in one to three phases."""
    phases = 1 if count < 6 else rng.randint(1, 3)
    starts = [first_delivery]
    for _ in range(phases - 1):
        starts.append(min(starts[-1] + rng.randint(300, 700), TODAY - 60))
    return [starts[i * phases // count] for i in range(count)]


def plan_residential(rng: random.Random, total: int) -> list[BuildingPlan]:
    """Buildings of a 小区 holding exactly ``total`` units."""
    parking = round(total * rng.uniform(0.03, 0.10)) if total >= 300 else 0
    shops = round(total * rng.uniform(0.01, 0.03))
    villas = round(total * rng.uniform(0.06, 0.15)) if total >= 800 and rng.random() < 0.2 else 0
    flats = total - parking - shops - villas
    style = rng.choice(ESTATE_STYLES)
    plans: list[BuildingPlan] = []

    left = flats
    while left > 0:
        b = str(len(plans) + 1)
        kind = rng.choices(("low_rise", "mid_rise", "high_rise"), weights=style)[0]
        if kind == "low_rise":
            floors, entrances, per_floor = 6, rng.randint(1, 3), rng.choice((2, 2, 3))
        elif kind == "mid_rise":
            floors, entrances, per_floor = rng.randint(11, 18), rng.randint(1, 3), rng.randint(2, 4)
        else:
            floors, entrances, per_floor = rng.randint(18, 33), rng.randint(1, 2), rng.randint(2, 4)
        ground_shops = 0
        if kind != "low_rise" and shops > 0 and rng.random() < 0.5:
            ground_shops = min(shops, rng.randint(4, 10))
            shops -= ground_shops
        if left <= 36:  # a small remainder: one more low building (一梯两户)
            shops += ground_shops
            ground_shops, per_floor = 0, 2
            entrances = math.ceil(left / 12)
            floors = math.ceil(left / (2 * entrances))
        first = 2 if ground_shops else 1
        if entrances * per_floor * (floors - first + 1) > left:  # the last building takes what is left
            floors = first - 1 + math.ceil(left / (entrances * per_floor))
        kind = _flat_kind(floors)
        plan = BuildingPlan(b, f"{b}幢", floors, 0)
        lo, hi = FLAT_AREAS[kind]
        layout = [_area(rng, lo, hi) for _ in range(per_floor)]  # the same flats on every floor
        for k in range(1, ground_shops + 1):
            plan.units.append(("", 1, f"1{k:02d}", f"{b}-1{k:02d}", "shop", _area(rng, 30, 200)))
        count = 0
        for e in range(1, entrances + 1):
            for fl in range(first, floors + 1):
                for p in range(per_floor):
                    if count == left:
                        break
                    number = f"{fl}{p + 1:02d}"
                    plan.units.append((str(e), fl, number, f"{b}-{e}-{number}", kind, layout[p]))
                    count += 1
        left -= count
        plans.append(plan)

    while villas > 0:
        b = str(len(plans) + 1)
        if rng.random() < 0.6:
            n, kind, lo, hi = min(villas, rng.randint(4, 8)), "townhouse", 180, 280
        else:
            n, kind, lo, hi = 1, "villa", 250, 400
        plan = BuildingPlan(b, f"{b}幢", 3, 0)
        plan.units = [("", 1, str(k), f"{b}-{k}", kind, _area(rng, lo, hi)) for k in range(1, n + 1)]
        villas -= n
        plans.append(plan)

    if shops > 0:
        b = str(len(plans) + 1)
        plan = BuildingPlan(b, "商业街", 2, 0)
        downstairs = (shops + 1) // 2
        for k in range(shops):
            fl, n = (1, k + 1) if k < downstairs else (2, k - downstairs + 1)
            plan.units.append(("", fl, f"{fl}{n:02d}", f"{b}-{fl}{n:02d}", "shop", _area(rng, 30, 200)))
        plans.append(plan)

    first_delivery = rng.randint(_day(2003), TODAY - 200)
    for plan, day in zip(plans, _phases(rng, len(plans), first_delivery), strict=True):
        plan.delivered = day
    if parking:
        plans.append(_garage(rng, parking, plans[0].delivered))
    return plans


def _garage(rng: random.Random, count: int, delivered: int) -> BuildingPlan:
    plan = BuildingPlan("P1", "地下车库", None, delivered)
    plan.units = [("", -1, f"{k:04d}", f"P1-{k:04d}", "parking", _area(rng, 12, 15)) for k in range(1, count + 1)]
    return plan


def plan_office(rng: random.Random, total: int) -> list[BuildingPlan]:
    """One or two towers of a 写字楼 holding exactly ``total`` units (shops on floor 1, offices above)."""
    parking = round(total * rng.uniform(0.0, 0.05)) if total >= 300 else 0
    towers = 1 if total - parking < 500 else 2
    delivered = rng.randint(_day(2005), TODAY - 300)
    plans = []
    left = total - parking
    for t in range(towers):
        b = str(t + 1)
        tower_units = left if t == towers - 1 else left // 2
        left -= tower_units
        shops = min(tower_units - 1, rng.randint(2, 8)) if tower_units > 3 else 0
        offices = tower_units - shops
        whole = min(rng.randint(0, 3), offices - 1)  # top floors let or sold as a whole (整层)
        regular = offices - whole
        lo, hi = math.ceil(regular / 36), max(1, regular // 9)
        per_floor = rng.randint(min(lo, 16), min(max(lo, hi), 16))
        floors = math.ceil(regular / per_floor)
        plate = rng.uniform(1200, 2400)  # m² of lettable floor per storey, split unevenly between the units
        shares = [rng.uniform(0.4, 1.6) for _ in range(per_floor)]
        layout = [_area_text(min(1200, max(80, plate * share / sum(shares)))) for share in shares]
        plan = BuildingPlan(b, "AB"[t] + "座", 1 + floors + whole, delivered)
        for k in range(1, shops + 1):
            plan.units.append(("", 1, f"1{k:02d}", f"{b}-1{k:02d}", "shop", _area(rng, 30, 200)))
        count = 0
        for fl in range(2, floors + 2):
            for p in range(per_floor):
                if count == regular:
                    break
                number = f"{fl}{p + 1:02d}"
                plan.units.append(("", fl, number, f"{b}-{number}", "office", layout[p]))
                count += 1
        for fl in range(floors + 2, floors + 2 + whole):
            plan.units.append(("", fl, f"{fl}01", f"{b}-{fl}01", "office", _area(rng, 600, 1200)))
        plans.append(plan)
    if parking:
        plans.append(_garage(rng, parking, delivered))
    return plans


def plan_projects(rng: random.Random, units: int, seed: int) -> list[ProjectSpec]:
    """Split ``units`` into projects of realistic size; codes depend on the seed."""
    specs: list[ProjectSpec] = []
    used: set[str] = set()
    left = units
    while left > 0:
        office = rng.random() < 0.25
        size = rng.randint(200, 800) if office else rng.randint(1000, 4000)
        if size >= left - 200:
            size = left
        city = rng.choices(CITIES, weights=CITY_WEIGHTS)[0]
        for attempt in range(20):
            if office:
                brand = rng.choice(OFFICE_WORDS)
                name = brand + rng.choice(OFFICE_SUFFIXES)
            else:
                brand = rng.choice(ESTATE_WORDS)
                name = brand + rng.choice(ESTATE_SUFFIXES)
            if attempt >= 10:
                name = rng.choice(city.districts)[:2] + name
            if name not in used:
                break
        while name in used:  # a big estate list repeats names: tell them apart by phase, like real ones do
            name += "二期"
        used.add(name)
        specs.append(ProjectSpec(f"S{seed}-{len(specs) + 1:04d}", name, brand,
                                 "office" if office else "residential", size, city))
        left -= size
    return specs


DEMO_PROJECTS = (
    ProjectSpec("DEMO-CH", "翠湖花园", "翠湖", "residential", 600, CITIES[HOME_CITY]),
    ProjectSpec("DEMO-JX", "锦绣家园", "锦绣", "residential", 550, CITIES[HOME_CITY]),
    ProjectSpec("DEMO-JR", "金融中心大厦", "金融", "office", 350, CITIES[HOME_CITY]),
)


# --- writing ------------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)  # hashed by identity: tables are dict keys on the hot path
class Table:
    model: type
    fields: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.model._meta.db_table

    @property
    def columns(self) -> list[str]:
        return [self.model._meta.get_field(f).column for f in self.fields]


# In foreign-key order: a table only references tables listed before it (or itself).
PARTY = Table(Party, ("id", "kind", "name", "id_number", "natural_key", "is_developer", "lives_elsewhere",
                      "is_investor", "is_retired", "is_business_owner", "preferred_channel", "preferred_time",
                      "designated_signer", "note", "created_at", "updated_at"))
PROJECT = Table(Project, ("id", "code", "name", "kind", "city", "address", "developer", "timezone", "created_at"))
BUILDING = Table(Building, ("id", "project", "code", "name", "floors"))
UNIT = Table(Unit, ("id", "project", "building", "entrance", "floor", "number", "code", "property_type", "area",
                    "state", "delivered_on", "created_at", "updated_at"))
STATE = Table(UnitStateChange, ("id", "unit", "state", "since", "recorded_at", "recorded_by", "source"))
OCCUPANCY = Table(Occupancy, ("id", "unit", "party", "role", "start", "end", "pays_fees", "recorded_at",
                              "recorded_by", "source"))
CONTACT = Table(ContactPoint, ("id", "party", "kind", "value", "label", "source", "validity", "last_verified",
                               "is_primary", "created_at", "updated_at"))
TABLES = (PARTY, PROJECT, BUILDING, UNIT, STATE, OCCUPANCY, CONTACT)


class BulkWriter:
    """Inserts rows given as plain tuples: COPY on PostgreSQL, ``executemany`` on other databases.

    Batches are written by a background thread on the same database connection (so inside the caller's
    transaction) while the main thread generates the next batch; PostgreSQL does its share of the work on
    the other core meanwhile. Only the thread touches the connection between ``start()`` and ``stop()``.
    """

    def __init__(self, conn=connection):
        self.conn = conn
        self.postgres = conn.vendor == "postgresql"
        # What the database expects for the fixed timestamp (text for COPY, Django's adaptation otherwise).
        self.stamp = STAMP.isoformat(sep=" ") if self.postgres else conn.ops.adapt_datetimefield_value(STAMP)
        qn = conn.ops.quote_name
        mark = "?" if conn.vendor == "sqlite" else "%s"
        self.sql = {}
        for table in TABLES:
            columns = ", ".join(qn(c) for c in table.columns)
            if self.postgres:
                self.sql[table] = f"COPY {qn(table.name)} ({columns}) FROM STDIN"
            else:
                marks = ", ".join([mark] * len(table.columns))
                self.sql[table] = f"INSERT INTO {qn(table.name)} ({columns}) VALUES ({marks})"
        self.queue: queue.Queue | None = None
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.aborted = False
        self.raw = None
        self.dropped_keys: list[tuple[str, str, str]] = []  # (table, constraint, definition)
        self.dropped_indexes: list[tuple[str, str]] = []    # (index, CREATE INDEX statement)

    def next_id(self, table: Table) -> int:
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {self.conn.ops.quote_name(table.name)}")
            return cur.fetchone()[0] + 1

    def write(self, batch: dict[Table, list[tuple]]) -> None:
        """Insert the rows of each table, in the order given (parents first)."""
        raw = self.raw or self.conn.connection  # the DB-API connection: no Django cursor wrapping per batch
        if self.postgres:
            with raw.cursor() as cur:
                for table, rows in batch.items():
                    if rows:
                        with cur.copy(self.sql[table]) as copy:
                            write_row = copy.write_row
                            for row in rows:
                                write_row(row)
        else:
            cur = raw.cursor()
            try:
                for table, rows in batch.items():
                    if rows:
                        cur.executemany(self.sql[table], rows)
            finally:
                cur.close()

    # background writing
    def start(self) -> None:
        self.conn.ensure_connection()
        # ``django.db.connection`` is per thread: the writer thread gets the DB-API connection handed over.
        self.raw = self.conn.connection
        self.queue = queue.Queue(maxsize=2)
        self.thread = threading.Thread(target=self._run, name="seed-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (batch := self.queue.get()) is not None:
            if self.error is None and not self.aborted:  # else keep draining so the producer never blocks
                try:
                    self.write(batch)
                except BaseException as exc:  # handed to the main thread in submit()/stop()
                    self.error = exc

    def submit(self, batch: dict[Table, list[tuple]]) -> None:
        if self.error is not None:
            raise self.error
        if self.thread is None:
            self.write(batch)
        else:
            self.queue.put(batch)

    def stop(self) -> None:
        """Wait for the queued batches; re-raise what went wrong in the thread."""
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
            self.thread = None
        if self.error is not None:
            raise self.error

    def abort(self) -> None:
        """Stop without writing what is still queued (the transaction is about to be rolled back)."""
        self.aborted = True
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
            self.thread = None

    # PostgreSQL bulk-load preparation
    def begin_load(self, empty_tables: Sequence[Table]) -> None:
        """Take the per-row work off PostgreSQL for the load (inside the transaction; PostgreSQL only).

        * Foreign keys of the estate tables are dropped: checking millions of rows one by one costs more than
          the load itself, while re-creating the very same constraint afterwards validates all rows with one
          join per key.
        * Secondary indexes of tables that were empty are dropped too and built afterwards in one sort each,
          which is several times cheaper than maintaining them row by row. Primary keys and unique
          constraints stay, so duplicates are still refused during the load.

        ``end_load`` restores both from the definitions read here; any failure rolls everything back.
        """
        if not self.postgres:
            return
        qn = self.conn.ops.quote_name
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) ORDER BY conrelid::regclass::text, conname",
                [[t.name for t in TABLES]],
            )
            self.dropped_keys = cur.fetchall()
            for table, name, _definition in self.dropped_keys:
                cur.execute(f"ALTER TABLE {table} DROP CONSTRAINT {qn(name)}")
            if empty_tables:
                cur.execute(
                    "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                    "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary AND NOT EXISTS ("
                    "  SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)"
                    " ORDER BY 1",
                    [[t.name for t in empty_tables]],
                )
                self.dropped_indexes = cur.fetchall()
                for name, _definition in self.dropped_indexes:
                    cur.execute(f"DROP INDEX {name}")

    def end_load(self) -> None:
        with self.conn.cursor() as cur:
            if self.dropped_indexes:
                cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
            for _name, definition in self.dropped_indexes:
                cur.execute(definition)
            for table, name, definition in self.dropped_keys:
                cur.execute(f"ALTER TABLE {table} ADD CONSTRAINT {self.conn.ops.quote_name(name)} {definition}")
        self.dropped_indexes = []
        self.dropped_keys = []

    def reset_sequence(self, table: Table, last_id: int) -> None:
        """Move PostgreSQL's id sequence past the keys we assigned ourselves (SQLite follows by itself)."""
        if self.postgres:
            with self.conn.cursor() as cur:
                cur.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table.name, last_id])

    def analyze(self) -> None:
        if self.postgres:
            with self.conn.cursor() as cur:
                cur.execute("ANALYZE " + ", ".join(self.conn.ops.quote_name(t.name) for t in TABLES))


# --- the generator ----------------------------------------------------------------------------------------------

class EstateGenerator:
    """Generates one project after another into per-table row buffers and flushes them through a BulkWriter."""

    def __init__(self, rng: random.Random, writer: BulkWriter, taken_ids: set[int], taken_keys: set[str]):
        self.rng = rng
        self.r = rng.random  # the hot paths call this a few dozen times per unit
        self.writer = writer
        self.stamp = writer.stamp
        self.taken_ids = taken_ids    # 17-digit prefixes of resident IDs already used (in the DB or by us)
        self.taken_keys = taken_keys  # company natural keys already used
        self.first_id = {t: writer.next_id(t) for t in TABLES}
        self.next = dict(self.first_id)
        self.rows: dict[Table, list[tuple]] = {t: [] for t in TABLES}
        self.buffered = 0
        self.all_regions = [_region_part(code) for city in CITIES for code in city.regions]
        self.all_regions += [_region_part(code) for code in ORIGIN_REGIONS]
        self.city_regions = {city.name: [_region_part(code) for code in city.regions] for city in CITIES}
        self.ctx: _ProjectContext | None = None  # the project being generated

    # ids and buffers
    def _id(self, table: Table) -> int:
        n = self.next[table]
        self.next[table] = n + 1
        return n

    def flush(self) -> None:
        """Hand the buffered rows to the writer and start new buffers."""
        self.writer.submit(self.rows)
        self.rows = {t: [] for t in TABLES}
        self.buffered = 0

    def counts(self) -> dict[str, int]:
        names = {PROJECT: "projects", BUILDING: "buildings", UNIT: "units", STATE: "unit_state_changes",
                 PARTY: "parties", OCCUPANCY: "occupancies", CONTACT: "contacts"}
        return {names[t]: self.next[t] - self.first_id[t] for t in (PROJECT, BUILDING, UNIT, STATE, PARTY,
                                                                     OCCUPANCY, CONTACT)}

    def finish(self) -> None:
        self.flush()
        self.writer.stop()
        for table in TABLES:
            if self.next[table] > self.first_id[table]:
                self.writer.reset_sequence(table, self.next[table] - 1)

    # small random helpers
    def _pick(self, seq: Sequence):
        return seq[int(self.r() * len(seq))]

    def _between(self, lo: int, hi: int) -> int:
        """A day (or any int) in [lo, hi]; hi below lo gives lo."""
        return lo + int(self.r() * (hi - lo + 1)) if hi > lo else lo

    # names and numbers
    def _person_name(self, male: bool) -> str:
        r = self.r
        chars = MALE_CHARS if male else FEMALE_CHARS
        given = chars[int(r() * len(chars))]
        if r() < 0.65:
            given += chars[int(r() * len(chars))]
        return SURNAME_POOL[int(r() * len(SURNAME_POOL))] + given

    def _resident_id(self, city: City, min_age: int, max_age: int, male: bool) -> tuple[str, float]:
        """A fresh, valid resident ID number of someone aged min_age..max_age; returns (id, age in years)."""
        r = self.r
        regions = self.city_regions[city.name] if r() < 0.6 else self.all_regions
        region_int, region_sum = regions[int(r() * len(regions))]
        age = self.rng.triangular(min_age, max_age, min_age + (max_age - min_age) * 0.3)  # most are younger
        b = BIRTH_TODAY - int(age * 365.25)
        birth_int, birth_sum = BIRTH_PARTS[b]
        seq = 2 * int(r() * 500) + (1 if male else 0)  # odd sequence numbers are men
        key = region_int + birth_int * 1000 + seq
        while key in self.taken_ids:
            seq = (seq + 2) % 1000
            key = region_int + birth_int * 1000 + seq
        self.taken_ids.add(key)
        check = _ID_CHECK[(region_sum + birth_sum + SEQ_SUMS[seq]) % 11]
        return f"{key:017d}{check}", (BIRTH_TODAY - b) / 365.25

    def _mobile(self) -> str:
        return MOBILE_PREFIXES[int(self.r() * len(MOBILE_PREFIXES))] + f"{int(self.r() * 100_000_000):08d}"

    def _landline(self, city: City) -> str:
        return f"{city.area_code}-{self._pick(city.landline_leads)}{int(self.r() * 10_000_000):07d}"

    def _email(self) -> str:
        r = self.r
        if r() < 0.5:
            return f"{10_000 + int(r() * 2_999_990_000)}@qq.com"
        letters = "".join(chr(97 + int(r() * 26)) for _ in range(3 + int(r() * 6)))
        return f"{letters}{int(r() * 10_000)}@{self._pick(MAIL_DOMAINS)}"

    def _openid(self) -> str:
        return "o" + "".join(self.rng.choices(OPENID_CHARS, k=27))

    def _address(self, city: City, detail: bool = True) -> str:
        r = self.r
        text = f"{city.name}市{self._pick(city.districts)}{self._pick(city.roads)}{1 + int(r() * 999)}号"
        if detail:
            text += f"{self._pick(ESTATE_WORDS)}{self._pick(ESTATE_SUFFIXES)}{1 + int(r() * 30)}幢" \
                    f"{1 + int(r() * 3)}单元{(2 + int(r() * 25)) * 100 + 1 + int(r() * 4)}室"
        return text

    def _elsewhere(self, city: City) -> City:
        other = self._pick(CITIES)
        return other if other is not city else CITIES[(CITIES.index(city) + 1) % len(CITIES)]

    def _verified(self) -> str:
        return DAYS[TODAY - 1 - int(self.r() * 720)]

    # contacts
    def _contact(self, party: int, kind: str, value: str, label: str, validity: str, verified: str | None,
                 primary: bool) -> None:
        self.rows[CONTACT].append((self._id(CONTACT), party, kind, value, label, SOURCE, validity, verified,
                                   primary, self.stamp, self.stamp))

    def _phone_validity(self, dead_rate: float) -> tuple[str, str | None]:
        x = self.r()
        if x < dead_rate:
            return self._pick(DEAD), self._verified()
        if x < dead_rate + 0.45:
            return "valid", self._verified()
        return "unknown", None

    def _person_contacts(self, pid: int, city: City, dead_rate: float, full: bool, home: City | None) -> int:
        """1–2 mobiles (the first live one is primary) and, for ``full`` owners, sometimes more; returns count."""
        r = self.r
        first = self._mobile()
        v1, d1 = self._phone_validity(dead_rate)
        n = 1
        if full and r() < 0.3:
            second = self._mobile()
            v2, d2 = self._phone_validity(dead_rate)
            second_primary = v1 in DEAD and v2 not in DEAD
            self._contact(pid, "mobile", first, "本人", v1, d1, not second_primary)
            if second != first:
                self._contact(pid, "mobile", second, self._pick(SECOND_PHONE_LABELS), v2, d2, second_primary)
                n += 1
        else:
            self._contact(pid, "mobile", first, "本人", v1, d1, True)
        if not full:
            return n
        if r() < 0.08:
            v, d = self._phone_validity(0.15)
            self._contact(pid, "landline", self._landline(home or city), "家里", v, d, False)
            n += 1
        if r() < 0.12:
            self._contact(pid, "email", self._email(), "本人", "unknown", None, False)
            n += 1
        if r() < 0.05:
            self._contact(pid, "wechat", self._openid(), "公众号", "valid", self._verified(), False)
            n += 1
        if home is not None:
            self._contact(pid, "address", self._address(home), "常住地址", "unknown", None, False)
            n += 1
        return n

    # parties
    def _party(self, pid: int, kind: str, name: str, id_number: str, key: str, *, developer=False,
               elsewhere=False, investor=False, retired=False, business=False, preferred_time="",
               signer=None, note="") -> None:
        self.rows[PARTY].append((pid, kind, name, id_number, key, developer, elsewhere, investor, retired,
                                 business, "", preferred_time, signer, note, self.stamp, self.stamp))

    def person(self, city: City, *, min_age=26, max_age=85, elsewhere=False, investor=False, business=None,
               dead_rate=0.04, full=True) -> int:
        """A person (owner, tenant, signer…) with contacts; returns the party id."""
        r = self.r
        pid = self._id(PARTY)
        male = r() < 0.5
        id_number, age = self._resident_id(city, min_age, max_age, male)
        if business is None:
            business = r() < 0.08
        home = self._elsewhere(city) if elsewhere else None
        self._party(pid, "person", self._person_name(male), id_number, f"id:{id_number}",
                    elsewhere=elsewhere, investor=investor, retired=age >= 60 and r() < 0.9, business=business,
                    preferred_time=self._pick(PREFERRED_TIMES) if r() < 0.1 else "")
        self._person_contacts(pid, city, dead_rate, full, home)
        return pid

    def company(self, city: City, *, name: str | None = None, key: str | None = None, developer=False,
                address: str | None = None, signer: bool = False) -> int:
        """A company (owner, tenant or developer) with a switchboard, usually an e-mail and an address."""
        r = self.r
        pid = self._id(PARTY)
        region = self._pick(city.regions)
        while True:
            body = "91" + region + "".join(self._pick(_USCC_CHARS) for _ in range(9))
            uscc = body + uscc_check(body)
            if f"id:{uscc}" not in self.taken_keys:
                break
        self.taken_keys.add(f"id:{uscc}")
        if name is None:
            name = f"{city.name}{self._pick(BRAND_CHARS)}{self._pick(BRAND_CHARS)}{self._pick(INDUSTRIES)}"
        signer_id = self.person(city, min_age=25, max_age=55, dead_rate=0.03, full=False) if signer else None
        self._party(pid, "company", name, uscc, key or f"id:{uscc}", developer=developer, signer=signer_id)
        v, d = self._phone_validity(0.05)
        self._contact(pid, "landline", self._landline(city), "前台", v, d, True)
        if r() < 0.6:
            self._contact(pid, "email", self._email(), "财务", "unknown", None, False)
        self._contact(pid, "address", address or self._address(city, detail=False), "注册地址", "valid",
                      self._verified(), False)
        return pid

    # occupancy rows
    def _occ(self, unit: int, party: int, role: str, start: int, end: int | None, pays: bool = False) -> None:
        self.rows[OCCUPANCY].append((self._id(OCCUPANCY), unit, party, role, DAYS[start],
                                     DAYS[end] if end is not None else None, pays, self.stamp, None, SOURCE))

    def _state(self, unit: int, state: str, since: int) -> None:
        self.rows[STATE].append((self._id(STATE), unit, state, DAYS[since], self.stamp, None, SOURCE))

    # projects
    def project(self, spec: ProjectSpec) -> int:
        """Generate and buffer one project; returns its number of units."""
        rng, city = self.rng, spec.city
        address = f"{city.name}市{self._pick(city.districts)}{self._pick(city.roads)}{rng.randint(1, 999)}号"
        developer = self.company(city, name=f"{city.name}{spec.brand}{rng.choice(('置业', '房地产开发'))}有限公司",
                                 key=f"dev:{spec.code}", developer=True)
        pid = self._id(PROJECT)
        self.rows[PROJECT].append((pid, spec.code, spec.name, spec.kind, city.name, address, developer,
                                   "Asia/Shanghai", self.stamp))
        plans = plan_office(rng, spec.units) if spec.kind == "office" else plan_residential(rng, spec.units)
        self.ctx = _ProjectContext(city, address)
        stamp = self.stamp
        for plan in plans:
            bid = self._id(BUILDING)
            self.rows[BUILDING].append((bid, pid, plan.code, plan.name, plan.floors))
            delivered = DAYS[plan.delivered]
            units = self.rows[UNIT]
            for entrance, floor, number, code, ptype, area in plan.units:
                uid = self._id(UNIT)
                state = self.occupy(uid, CATEGORY[ptype], plan.delivered)
                units.append((uid, pid, bid, entrance, floor, number, code, ptype, area, state, delivered,
                              stamp, stamp))
            self.buffered += len(plan.units) * 6
            if self.buffered >= FLUSH_ROWS:
                self.flush()
        return spec.units

    def _owner(self, category: str, *, vacant: bool, rented: bool) -> int:
        """The owner of a unit that is not an investor's; companies own offices (often several in a row)."""
        r, ctx = self.r, self.ctx
        if category == "office" and r() < 0.75:
            if ctx.company_owner and ctx.company_owner[1] > 0:
                ctx.company_owner[1] -= 1
                return ctx.company_owner[0]
            owner = self.company(ctx.city, signer=r() < 0.6, address=ctx.address)
            ctx.company_owner = [owner, int(r() * 4)]
            return owner
        if category == "shop" and r() < 0.1:
            return self.company(ctx.city, address=ctx.address)
        elsewhere = ((vacant or rented) and r() < 0.5) or r() < 0.02
        business = category in ("shop", "office") or r() < 0.08
        return self.person(ctx.city, elsewhere=elsewhere, business=business)

    def _investor(self) -> int:
        """An investor holding 2–3 vacant units of this project (the next vacant-investor units go to them)."""
        ctx = self.ctx
        if ctx.investor and ctx.investor[1] > 0:
            ctx.investor[1] -= 1
            return ctx.investor[0]
        owner = self.person(ctx.city, min_age=35, max_age=70, investor=True, elsewhere=self.r() < 0.6,
                            business=self.r() < 0.4)
        ctx.investor = [owner, 1 + int(self.r() * 2)]
        return owner

    def _tenant(self, category: str) -> tuple[int, bool]:
        """A tenant and whether they agreed to pay the fees."""
        r, city = self.r, self.ctx.city
        if category == "office" or (category == "shop" and r() < 0.3):
            return self.company(city, signer=True, address=self.ctx.address), r() < 0.7
        if category == "shop":
            return self.person(city, min_age=22, max_age=60, business=True, dead_rate=0.08, full=False), r() < 0.6
        return self.person(city, min_age=20, max_age=50, business=False, dead_rate=0.08, full=False), r() < 0.3

    def occupy(self, uid: int, category: str, delivered: int) -> str:
        """Owner, tenants and state history of one unit; returns its current state."""
        r = self.r
        x = r()
        unsold, investor, vacant, decorating, rented = PROFILES[category]
        if x < unsold:
            self._state(uid, "vacant", delivered)
            return "vacant"
        handover = min(delivered + int(r() * 60), TODAY - 1)
        if category == "parking":
            owners = self.ctx.resident_owners
            owner = self._pick(owners) if owners and r() < 0.8 else self.person(self.ctx.city)
            self._occ(uid, owner, "owner", handover, None)
            self._state(uid, "self", handover)
            return "self"

        if x < investor:
            state, owner = "vacant", self._investor()
        else:
            state = "vacant" if x < vacant else "decorating" if x < decorating else "rented" if x < rented else "self"
            if state == "self" and delivered > TODAY - 540 and r() < 0.3:
                state = "decorating"  # a recently delivered building is still being fitted out
            owner = self._owner(category, vacant=state == "vacant", rented=state == "rented")
            if state in ("self", "rented"):
                self.ctx.resident_owners.append(owner)

        start = handover
        if x >= investor and delivered < TODAY - 3 * YEAR and r() < 0.03:  # the unit changed hands once
            transfer = self._between(start + YEAR, TODAY - 60)
            former = self.person(self.ctx.city, dead_rate=0.2, full=False, elsewhere=r() < 0.3)
            self._occ(uid, former, "owner", start, transfer - 1)
            start = transfer
        self._occ(uid, owner, "owner", start, None)

        if state == "vacant":
            self._state(uid, "vacant", start)
        elif state == "decorating":
            self._state(uid, "decorating", max(start, TODAY - 15 - int(r() * 225)))
        elif state == "self":
            since = start
            if r() < 0.06:  # moved in after a while: keep the earlier state too
                self._state(uid, "vacant" if r() < 0.5 else "decorating", start)
                since = min(start + 60 + int(r() * 400), TODAY - 1)
            self._state(uid, "self", since)
        else:
            self._rent(uid, category, start)
        return state

    def _rent(self, uid: int, category: str, owned_since: int) -> None:
        """Current tenant, sometimes earlier tenants (churn), and the state rows of a rented unit."""
        r = self.r
        earliest = min(owned_since + 30, TODAY - 30)
        begin = self._between(max(earliest, TODAY - 1100), TODAY - 30)
        tenant, pays = self._tenant(category)
        self._occ(uid, tenant, "tenant", begin, None, pays)
        if r() < 0.35:
            for _ in range(1 + int(r() * 3)):
                end = begin - 1 - int(r() * 60)
                start = end - 180 - int(r() * 900)
                if start < earliest:
                    break
                former, pays = self._tenant(category)
                self._occ(uid, former, "tenant", start, end, pays)
                begin = start
        if r() < 0.2 and begin - 90 > owned_since:  # the owner lived there before letting it
            self._state(uid, "self", owned_since)
        self._state(uid, "rented", begin)


@dataclass
class _ProjectContext:
    city: City
    address: str
    resident_owners: list[int] = field(default_factory=list)  # parking spaces mostly go to these
    investor: list | None = None       # [party id, units it may still take]
    company_owner: list | None = None  # [party id, further adjacent office units it takes]


# --- entry point --------------------------------------------------------------------------------------------------

def _taken_resident_ids(conn) -> tuple[set[int], set[str]]:
    """17-digit prefixes of resident-ID natural keys and the company keys already in the database."""
    ids: set[int] = set()
    keys: set[str] = set()
    with conn.cursor() as cur:
        cur.execute(f"SELECT natural_key FROM {conn.ops.quote_name(PARTY.name)} WHERE natural_key LIKE %s", ["id:%"])
        for (key,) in cur.fetchall():
            body = key[3:20]
            if len(key) == 21 and body.isascii() and body.isdigit():
                ids.add(int(body))
            else:
                keys.add(key)
    return ids, keys


def seed_estate(*, units: int, seed: int, demo: bool = False, stdout=None) -> dict:
    """Write a synthetic estate of ``units`` units (or the three demo projects); returns rows per table.

    Raises SeedConflict when projects with the generated codes already exist.
    """
    from wuye.accounts.services import audit_record

    def say(text: str) -> None:
        if stdout is not None:
            stdout.write(text + "\n")  # a management command's OutputWrapper does not double the newline
    if demo:
        seed = DEMO_SEED
    rng = random.Random(seed)
    specs = list(DEMO_PROJECTS) if demo else plan_projects(rng, units, seed)
    total = sum(s.units for s in specs)
    codes = [s.code for s in specs]
    clash = []
    for i in range(0, len(codes), 500):
        clash += Project.objects.filter(code__in=codes[i:i + 500]).values_list("code", flat=True)
    if clash:
        raise SeedConflict(
            f"数据库中已有同编码的项目（{'、'.join(sorted(clash)[:3])}{' 等' if len(clash) > 3 else ''}"
            f"共 {len(clash)} 个），这个种子（--seed {seed}）已经生成过。请换一个种子，或先清空数据库。"
        )

    started = time.perf_counter()
    writer = BulkWriter(connection)
    with transaction.atomic():
        taken_ids, taken_keys = _taken_resident_ids(connection)
        gen = EstateGenerator(rng, writer, taken_ids, taken_keys)
        writer.begin_load([t for t in TABLES if gen.first_id[t] == 1])
        done, report_every = 0, max(total // 10, 1)
        next_report = report_every
        say(f"生成 {len(specs)} 个项目、{total:,} 套房屋（种子 {seed}）…")
        writer.start()
        try:
            for spec in specs:
                done += gen.project(spec)
                if done >= next_report and done < total:
                    say(f"  已生成 {done:,} / {total:,} 套房屋，{time.perf_counter() - started:.1f} 秒")
                    next_report += report_every
            gen.finish()
        except BaseException:
            writer.abort()  # the thread must be done with the connection before the rollback
            raise
        if writer.dropped_keys or writer.dropped_indexes:
            say(f"  写入完成，{time.perf_counter() - started:.1f} 秒；重建索引、校验外键约束…")
            writer.end_load()
        counts = gen.counts()
        audit_record(actor=None, actor_label="seed", verb="estate.seed", after=counts,
                     note=f"模拟数据：种子 {seed}{'（演示）' if demo else ''}，项目 {codes[0]}–{codes[-1]}")
    writer.analyze()
    return {**counts, "project_codes": codes}
