"""FilterSets with bounded numbers, shared by pages and the API (see ``wuye.common.params``)."""

from __future__ import annotations

import django_filters
from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django_filters.rest_framework import DjangoFilterBackend

from wuye.common.params import BIGINT_MAX, BIGINT_MIN, DECIMAL_LIMIT


class IntFilter(django_filters.NumberFilter):
    """An integer (an id, a floor): a 64-bit integer or a form error, never a decimal in an integer lookup."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", BIGINT_MIN)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(*args, **kwargs)


class BoundedFilterSet(django_filters.FilterSet):
    """Every number filter gets bounds: integers within 64 bits, decimals below 10^15 (and finite)."""

    @property
    def form(self):
        if not hasattr(self, "_form"):
            form = super().form
            for field in form.fields.values():
                # (django-filter's own NumberFilter bound is 1e50, far beyond what a column or SQLite holds)
                if isinstance(field, forms.DecimalField | forms.FloatField):
                    field.validators += [MinValueValidator(-DECIMAL_LIMIT), MaxValueValidator(DECIMAL_LIMIT)]
                elif isinstance(field, forms.IntegerField):
                    field.validators += [MinValueValidator(BIGINT_MIN), MaxValueValidator(BIGINT_MAX)]
            self._form = form
        return self._form


class FilterBackend(DjangoFilterBackend):
    """The API's filter backend: FilterSets built from ``filterset_fields`` are bounded too."""

    filterset_base = BoundedFilterSet
