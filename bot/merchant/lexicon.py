"""The words a product description is judged by, in English and Chinese.

``CLAIMS``: the kinds of statement a description must never invent (a material,
a colour, a size, a compatibility, a warranty, a certification or quality
claim, shipping, origin). A term of these is allowed only when the record
states it; each kind names itself in the reason a sentence is dropped.

``NEUTRAL``: the descriptive words that carry no fact of their own ("available",
"choose", "comes", "range"), which a sentence may use beside the record's
words. Kept short on purpose: no "perfect", "durable", "best", "ideal", which are
claims. The templates (bot/merchant/templates.py) use only these and the
record's words, so their sentences always pass.
"""

from __future__ import annotations

CLAIMS: dict[str, tuple[str, ...]] = {
    "material": tuple(
        """cotton polyester nylon wool merino cashmere silk linen leather suede denim canvas
        fleece rubber latex vinyl silicone plastic metal steel stainless aluminium aluminum
        titanium iron brass copper bronze glass ceramic porcelain wood wooden bamboo oak maple
        walnut pine cork marble stone granite foam mesh spandex elastane acrylic rayon viscose
        velvet satin hemp jute carbon kevlar gore-tex feather""".split()
    ),
    "colour": tuple(
        """black white red blue green yellow orange purple pink brown grey gray beige navy
        gold silver teal turquoise maroon burgundy ivory cream khaki olive tan charcoal violet
        lavender magenta cyan coral mint""".split()
    ),
    "size": ("xs", "xl", "xxl", "xxxl", "small", "medium", "large", "one size", "oversized",
             "petite", "plus size", "king", "queen", "twin", "compact", "mini"),
    "compatibility": ("compatible", "compatibility", "works with", "fits", "iphone", "ipad",
                      "android", "samsung", "pixel", "macbook", "windows", "alexa", "homekit",
                      "google assistant", "bluetooth", "wi-fi", "wifi", "usb", "usb-c",
                      "lightning", "magsafe"),
    "warranty": ("warranty", "warranties", "guarantee", "guaranteed", "guarantees",
                 "money-back", "lifetime", "refund", "refundable", "returnable", "replacement"),
    "claim": tuple(
        """waterproof water-resistant weatherproof windproof breathable
        hypoallergenic antibacterial antimicrobial organic natural eco eco-friendly sustainable
        recycled biodegradable compostable vegan cruelty-free non-toxic bpa-free bpa lead-free
        gluten-free handmade handcrafted hand-made artisan certified approved fda tested
        dermatologist clinically patented award award-winning bestselling best-selling best
        top-rated popular premium luxury luxurious professional-grade military-grade durable
        sturdy lightweight heavy-duty rugged unbreakable shatterproof scratch-resistant
        stain-resistant wrinkle-free machine-washable washable dishwasher dishwasher-safe
        microwave-safe oven-safe food-grade medical-grade ergonomic quiet silent long-lasting
        energy-efficient insulated perfect ideal comfortable soft safe""".split()
    ),
    "shipping": ("free shipping", "shipping", "delivery", "ships", "next day", "express"),
    "origin": ("made in", "imported", "locally", "local"),
}  # fmt: skip

# Descriptive words that state nothing by themselves (stems are compared).
NEUTRAL = frozenset(
    """available availability choose choice choices pick select selection offer offered offers
    option options variant variants version versions price priced prices pricing cost costs
    range ranges ranging currently current now today stock sold item items product products
    piece pieces listed category categories belongs belong part made make each every both
    either also plus includes include including feature features starting start starts between
    value values several various different come comes coming kind kinds type types colour
    colours color colors size sizes material materials style styles shop catalog catalogue
    collection line meet say hello discover explore order buy right away ready there here yours
    way ways set sets number total out pay just good news whichever prefer suits runs run goes
    sits found name called listing moment time depending depends none one ones hold holds holding purchase variety along design designs""".split()
)

# Spelled numbers: the number check judges them, not the word check.
NUMBER_WORDS = dict(
    zip(
        """one two three four five six seven eight nine ten eleven twelve thirteen fourteen
        fifteen sixteen seventeen eighteen nineteen twenty""".split(),
        range(1, 21),
        strict=True,
    )
) | {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "hundred": 100}

# Units of a measure: a number with one of these must be in the record with it
# ("2-year", "500ml"). Periods and metric amounts compare by value (2 weeks = 14 days,
# 1L = 1000ml). Letters-only units of one letter count only glued to the number ("1L").
UNITS: dict[str, tuple[str, float]] = {
    **dict.fromkeys(("hour", "hours", "hr", "hrs", "h", "小时"), ("hours", 1)),
    **dict.fromkeys(("day", "days", "天", "日"), ("hours", 24)),
    **dict.fromkeys(("week", "weeks", "周", "星期"), ("hours", 168)),
    **dict.fromkeys(("month", "months", "个月", "月"), ("hours", 720)),
    **dict.fromkeys(("year", "years", "yr", "yrs", "年"), ("hours", 8760)),
    **dict.fromkeys(("ml", "milliliter", "milliliters", "millilitre", "millilitres", "毫升"), ("ml", 1)),
    **dict.fromkeys(("l", "liter", "liters", "litre", "litres", "升"), ("ml", 1000)),
    **dict.fromkeys(("g", "gram", "grams", "克"), ("g", 1)),
    **dict.fromkeys(("kg", "kilogram", "kilograms", "kilo", "kilos", "公斤", "千克"), ("g", 1000)),
    **dict.fromkeys(("mm", "millimeter", "millimeters", "毫米"), ("mm", 1)),
    **dict.fromkeys(("cm", "centimeter", "centimeters", "厘米"), ("mm", 10)),
    **dict.fromkeys(("m", "meter", "meters", "metre", "metres", "米"), ("mm", 1000)),
    **dict.fromkeys(("inch", "inches"), ("inch", 1)),
    **dict.fromkeys(("ft", "foot", "feet"), ("inch", 12)),
    **dict.fromkeys(("oz", "ounce", "ounces"), ("oz", 1)),
    **dict.fromkeys(("lb", "lbs", "pound", "pounds"), ("lb", 1)),
    **dict.fromkeys(("mah",), ("mah", 1)),
    **dict.fromkeys(("w", "watt", "watts"), ("w", 1)),
    **dict.fromkeys(("v", "volt", "volts"), ("v", 1)),
    **dict.fromkeys(("gb",), ("gb", 1)),
    **dict.fromkeys(("tb",), ("gb", 1000)),
    **dict.fromkeys(("mp", "megapixel", "megapixels"), ("mp", 1)),
    **dict.fromkeys(("%", "percent"), ("percent", 1)),
    **dict.fromkeys(("degree", "degrees", "°"), ("degree", 1)),
    **dict.fromkeys(("bar",), ("bar", 1)),
}  # fmt: skip

# Chinese: claims, then neutral phrases, then function characters ignored in what remains.
CLAIMS_ZH: dict[str, tuple[str, ...]] = {
    "material": ("纯棉", "棉", "真皮", "皮革", "羊毛", "羊绒", "蚕丝", "真丝", "亚麻", "不锈钢",
                 "铝合金", "钛", "玻璃", "陶瓷", "实木", "竹", "硅胶", "塑料", "紫砂"),
    "colour": ("黑色", "白色", "红色", "蓝色", "绿色", "黄色", "紫色", "粉色", "灰色", "金色",
               "银色", "棕色", "米色"),
    "size": ("大号", "中号", "小号", "加大", "均码"),
    "compatibility": ("兼容", "适配", "适用于", "支持", "苹果", "安卓", "蓝牙"),
    "warranty": ("保修", "质保", "包换", "包退", "退换", "终身", "保障", "售后"),
    "claim": ("防水", "防泼水", "防风", "透气", "有机", "纯天然", "天然", "环保", "手工", "手作",
              "认证", "专利", "正品", "原装", "最", "第一", "顶级", "爆款", "热销", "畅销",
              "抗菌", "无毒", "食品级", "医用", "高端", "奢华", "耐用", "舒适", "健康", "养生",
              "明前", "特级", "一级", "野生", "古树", "无添加", "零添加", "保证", "绝对"),
    "shipping": ("包邮", "免运费", "次日达", "当日达", "顺丰", "发货"),
    "origin": ("进口", "产地", "原产"),
}  # fmt: skip

NEUTRAL_ZH = tuple(
    """这款 本款 一款 我们 商品 属于 分类 类别 系列 价格 售价 单价 区间 之间 可选 可以 选择 提供
    多种 共有 共 款式 规格 版本 其中 有货 现货 目前 暂时 缺货 售罄 库存 欢迎 选购 挑选 任选 不同
    总共 全部 部分 起售 起 分为 包括 包含 以及 或者 还有 种 个 款 元 为 至 到 从 是 有 和 或 及 与
    在 的 了 也 都 还 可 供 您 你 已 等 每 各 均 类 中 选 售 价 可供 本店""".split()
)
# Single characters that carry no fact, dropped from what a Chinese sentence has left.
FUNCTION_CHARS_ZH = set(
    "的了是和或及与在也都还可为有个种款等每各均之其并而且就又您你我们这那本该此"
)
