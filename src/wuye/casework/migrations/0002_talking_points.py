"""Install the starting library of talking points (idempotent: missing codes only)."""

from django.db import migrations


def install(apps, schema_editor):
    from wuye.casework.talking_points import talking_points_install

    talking_points_install(apps.get_model("casework", "TalkingPoint"))


class Migration(migrations.Migration):
    dependencies = [("casework", "0001_initial")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
