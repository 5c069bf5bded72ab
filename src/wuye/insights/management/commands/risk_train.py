"""wuye risk_train: retrain the early-warning model on the estate's history and score every account."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from wuye.insights.services import risk_monthly, risk_scores_refresh


class Command(BaseCommand):
    help = "预警模型：按时间切分验证后重新训练，并为每户计算逾期 90 天以上的风险（--score-only 只用现有模型重新评分）。"

    def add_arguments(self, parser):
        parser.add_argument("--today", help="以哪天为今天（YYYY-MM-DD，默认今天）")
        parser.add_argument("--score-only", action="store_true", help="不训练，只用最近的模型重新评分")

    def handle(self, *args, today: str | None = None, score_only: bool = False, **options):
        try:
            day = dt.date.fromisoformat(today) if today else None
        except ValueError as exc:
            raise CommandError(f"日期格式不对：{exc}") from exc
        if score_only:
            self.stdout.write(f"已评分 {risk_scores_refresh()} 户")
            return
        try:
            model = risk_monthly(today=day, actor_label="cli:risk_train")
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        m = model.metrics
        self.stdout.write(
            f"预警模型（数据截至 {model.as_of}）：验证月 {m['test_month']}，AUC {m['auc']}（规则基线 {m['baseline_auc']}），"
            f"训练样本 {m['n_train']}，评分 {model.scored} 户，耗时 {model.seconds} 秒")
