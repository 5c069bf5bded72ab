"""Excel exports of estate lists (streamed with openpyxl's write-only mode; every row through ``safe_row``)."""

from __future__ import annotations

import io

from wuye.common.tabular import safe_row
from wuye.estate.choices import OccupancyState, PropertyType

UNIT_HEADERS = ["项目", "楼栋", "单元", "楼层", "房号", "房屋编码", "物业类型", "建筑面积(m²)", "入住状态", "业主"]


def units_xlsx(queryset) -> io.BytesIO:
    import openpyxl

    types = dict(PropertyType.choices)
    states = dict(OccupancyState.choices)
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("房屋清单")
    ws.append(safe_row(UNIT_HEADERS))
    rows = queryset.values_list(
        "project__name", "building__name", "entrance", "floor", "number", "code", "property_type", "area",
        "state", "owner_name",
    )
    for row in rows.iterator(chunk_size=2000):
        project, building, entrance, floor, number, code, ptype, area, state, owner = row
        ws.append(safe_row([project, building, entrance, floor, number, code, types.get(ptype, ptype), area,
                            states.get(state, state), owner or ""]))
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return out
