from django.db import models


class ProjectKind(models.TextChoices):
    RESIDENTIAL = "residential", "住宅小区"
    OFFICE = "office", "写字楼"


class PropertyType(models.TextChoices):
    """物业类型 — drives the fee rate and the collection segment."""

    LOW_RISE = "low_rise", "多层"
    MID_RISE = "mid_rise", "小高层"
    HIGH_RISE = "high_rise", "高层"
    TOWNHOUSE = "townhouse", "联排别墅"
    VILLA = "villa", "独立别墅"
    SHOP = "shop", "商铺"
    OFFICE = "office", "写字楼"
    PARKING = "parking", "车位"


class OccupancyState(models.TextChoices):
    """入住状态."""

    VACANT = "vacant", "空置/未入住"
    DECORATING = "decorating", "装修中"
    SELF_OCCUPIED = "self", "自住"
    RENTED = "rented", "出租"


class PartyKind(models.TextChoices):
    PERSON = "person", "个人"
    COMPANY = "company", "单位"


class OccupantRole(models.TextChoices):
    """产权/租住关系 — owners owe the fees; tenants may pay on their behalf but are never liable."""

    OWNER = "owner", "业主"
    TENANT = "tenant", "租户"


class ContactKind(models.TextChoices):
    MOBILE = "mobile", "手机"
    LANDLINE = "landline", "固话"
    EMAIL = "email", "电子邮箱"
    WECHAT = "wechat", "微信 openid"
    ADDRESS = "address", "通讯地址"


class ContactValidity(models.TextChoices):
    UNKNOWN = "unknown", "未核实"
    VALID = "valid", "有效"
    SUSPENDED = "suspended", "停机"
    EMPTY = "empty", "空号"
    WRONG = "wrong", "错号"


# Contact points in these states cannot reach anyone.
DEAD_VALIDITIES = frozenset({ContactValidity.SUSPENDED, ContactValidity.EMPTY, ContactValidity.WRONG})


class ContactSource(models.TextChoices):
    IMPORT = "import", "导入"
    HANDOVER = "handover", "交房登记"
    OWNER = "owner", "业主提供"
    COLLECTOR = "collector", "收费员核实"
    RECORDS = "records", "其他档案"
    NEIGHBOUR = "neighbour", "邻居/物业人员提供"
    SEED = "seed", "演示数据"


PII_CONTACT_KINDS = frozenset({ContactKind.MOBILE, ContactKind.LANDLINE, ContactKind.EMAIL,
                               ContactKind.WECHAT, ContactKind.ADDRESS})
