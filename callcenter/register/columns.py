"""The columns of the street office's register export, in the order the office writes them."""

from __future__ import annotations

SERIAL = "序号"
NAME = "姓名"
SEX = "性别"
NATIONAL_ID = "身份证号码"
BIRTH_DATE = "出生日期"
COMMUNITY = "所属社区"
ADDRESS = "详细地址"
LONGITUDE = "经度"
LATITUDE = "纬度"
OWN_PHONE = "本人电话"
LIVING = "居住情况"
CONDITIONS = "慢性病"
SELF_CARE = "自理能力"
CONTACT1_NAME = "紧急联系人"
CONTACT1_RELATION = "联系人关系"
CONTACT1_PHONE = "联系人电话"
CONTACT2_NAME = "紧急联系人2"
CONTACT2_RELATION = "联系人2关系"
CONTACT2_PHONE = "联系人2电话"
SOS_TERMINAL = "一键呼叫终端"
HEALTH_MONITOR = "健康监测设备"
DOOR_SENSOR = "门磁编号"
REMARKS = "备注"

HEADERS: tuple[str, ...] = (
    SERIAL, NAME, SEX, NATIONAL_ID, BIRTH_DATE, COMMUNITY, ADDRESS, LONGITUDE, LATITUDE,
    OWN_PHONE, LIVING, CONDITIONS, SELF_CARE, CONTACT1_NAME, CONTACT1_RELATION, CONTACT1_PHONE,
    CONTACT2_NAME, CONTACT2_RELATION, CONTACT2_PHONE, SOS_TERMINAL, HEALTH_MONITOR, DOOR_SENSOR,
    REMARKS,
)  # fmt: skip

LIVING_SITUATIONS = ("独居", "空巢", "与子女同住", "其他")
SELF_CARE_LEVELS = ("自理", "半失能", "失能")
CONDITION_SEPARATOR = "；"
