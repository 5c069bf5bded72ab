"""Wuye (物业收缴): property-fee billing and arrears collection."""

__version__ = "0.1.0"
